"""The three reference operations (article page, home, category page) the benchmarks and
statement-count tests run: a front end's typical reads."""

from __future__ import annotations

ARTICLE_PAGE = """
query ArticlePage($slug: String!) {
  article(slug: $slug) {
    id
    title
    slug
    excerpt
    body
    publishedAt
    author { name slug avatarUrl }
    category { name slug }
    tags { name slug }
    relatedPosts(first: 5) {
      title
      slug
      excerpt
      publishedAt
      author { name }
    }
  }
}
"""

HOME = """
query Home {
  articles(first: 20) {
    edges {
      node {
        title
        slug
        excerpt
        publishedAt
        author { name slug }
        category { name slug }
      }
    }
    pageInfo { endCursor hasNextPage }
  }
}
"""

CATEGORY_PAGE = """
query CategoryPage($slug: String!) {
  category(slug: $slug) {
    name
    description
    articles(first: 20) {
      edges {
        node {
          title
          slug
          publishedAt
          author { name }
        }
      }
    }
  }
}
"""
