// Apollo Client's persisted-queries link, unchanged, against the Masthead at the URL given
// (node persisted_queries.mjs URL TOKEN SLUG EDITOR_TOKEN). Prints one JSON object: what each step
// answered and every request the link sent, for tests/app/test_apollo_client.py to check.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { sha256 } from 'crypto-hash';

const [url, token, slug, editorToken] = process.argv.slice(2);
const sent = [];

async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const body = await response.clone().text();
  let codes = null;
  try {
    codes = (JSON.parse(body).errors ?? []).map((error) => error.extensions?.code ?? null);
  } catch {
    codes = ['not JSON'];
  }
  const requested = new URL(String(input));
  const payload = init?.body ? JSON.parse(init.body) : null;
  sent.push({
    method: init?.method ?? 'GET',
    hashOnly: (payload ?? Object.fromEntries(requested.searchParams)).query === undefined,
    status: response.status,
    errorCodes: codes,
    etag: response.headers.get('etag'),
    cacheControl: response.headers.get('cache-control'),
  });
  return response;
}

function client({ useGETForHashedQueries, headers = {} }) {
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch, headers }),
  );
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const ARTICLE = gql`
  query ArticlePage($slug: String!) {
    article(slug: $slug) { title slug author { name } }
  }
`;
const TAGS = gql`
  query Tags { tags(first: 5) { nodes { slug } } }
`;
const CREATE_TAG = gql`
  mutation CreateTag($name: String!) {
    createTag(input: { name: $name }) { tag { slug } errors { code } }
  }
`;

// A refused operation rejects (errorPolicy 'none'): the step keeps the error Apollo shows.
async function step(name, work) {
  const from = sent.length;
  let result;
  try {
    result = await work();
  } catch (error) {
    result = { error };
  }
  const error = result.error ?? null;
  return {
    name,
    data: result.data ?? null,
    error: error?.message ?? null,
    errorType: error?.constructor?.name ?? null,
    errorCodes: error?.errors?.map((each) => each.extensions?.code ?? null) ?? null,
    sent: sent.slice(from),
  };
}

const steps = [];
const network = { fetchPolicy: 'network-only' };
steps.push(await step('get, first time', () =>
  client({ useGETForHashedQueries: true }).query({ query: ARTICLE, variables: { slug }, ...network })));
steps.push(await step('get, known hash', () =>
  client({ useGETForHashedQueries: true }).query({ query: ARTICLE, variables: { slug }, ...network })));
const posting = client({ useGETForHashedQueries: false });
steps.push(await step('post, first time', () => posting.query({ query: TAGS, ...network })));
steps.push(await step('post, known hash', () => posting.query({ query: TAGS, ...network })));
steps.push(await step('mutation', () =>
  client({ useGETForHashedQueries: true, headers: { Authorization: `Bearer ${token}` } })
    .mutate({ mutation: CREATE_TAG, variables: { name: 'Persisted' } })));
// Errors: Apollo shows the server's own message, whatever refused the request.
const MISSPELT = gql`
  query Misspelt { articles(first: 1) { edges { node { titel } } } }
`;
steps.push(await step('error, invalid query', () =>
  client({ useGETForHashedQueries: true }).query({ query: MISSPELT, ...network })));
steps.push(await step('error, unknown token', () =>
  client({ useGETForHashedQueries: true, headers: { Authorization: 'Bearer not-a-token' } })
    .query({ query: TAGS, ...network })));
steps.push(await step('error, forbidden', () =>
  client({ useGETForHashedQueries: true, headers: { Authorization: `Bearer ${editorToken}` } })
    .mutate({ mutation: CREATE_TAG, variables: { name: 'Refused' } })));
console.log(JSON.stringify(steps));
