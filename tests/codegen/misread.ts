// Reading a nullable field as if it were always there: tsc --strict must refuse this file
// (tests/app/test_codegen.py checks that it does, so the types really are checked).
import type { ArticlePageQuery } from './graphql';

export function title(data: ArticlePageQuery): string {
  return data.article.title;
}
