// A front end's use of the types graphql-codegen makes from `masthead schema`: the three
// reference pages, read with the nullability the schema declares (tsc --strict checks it).
import type {
  ArticlePageQuery,
  ArticlePageQueryVariables,
  CategoryPageQuery,
  HomeQuery,
} from './graphql';

export const variables: ArticlePageQueryVariables = { slug: 'trade-pacts' };

export function byline(data: ArticlePageQuery): string {
  if (data.article === null) {
    return 'Not found';
  }
  const { title, author, tags, relatedPosts } = data.article;
  const related = relatedPosts.map((post) => post.slug).join(', ');
  return `${title} by ${author.name} [${tags.map((tag) => tag.name).join(', ')}] see ${related}`;
}

export function homeSlugs(data: HomeQuery): string[] {
  return data.articles.edges.map((edge) => edge.node.slug);
}

export function nextPage(data: HomeQuery): string | null {
  return data.articles.pageInfo.hasNextPage ? data.articles.pageInfo.endCursor : null;
}

export function categoryTitles(data: CategoryPageQuery): string[] {
  return data.category?.articles.edges.map((edge) => edge.node.title) ?? [];
}
