// Apollo Client over graphql-ws (GraphQLWsLink), the npm packages, against a live Masthead:
// run by tests/app/test_subscriptions_apollo.py. Arguments: the server's base URL, an
// editor's token, and an article's global id. It prints one JSON line per event:
// {"ready": true} once both subscriptions are acknowledged, then each result as it comes,
// and exits after the editor's subscription has seen two versions.
import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token, articleId] = process.argv.slice(2);
const url = base.replace(/^http/, 'ws') + '/graphql';
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');

function apollo(connectionParams) {
  const ws = createClient({ url, webSocketImpl: WebSocket, connectionParams, lazy: false });
  return { ws, client: new ApolloClient({ link: new GraphQLWsLink(ws), cache: new InMemoryCache() }) };
}

const changed = gql`subscription Changed($id: ID!) { articleChanged(id: $id) { title status version } }`;
const published = gql`subscription Published { articlePublished { slug } }`;
const editor = apollo({ Authorization: `Bearer ${token}` });
const reader = apollo({});

let acknowledged = 0;
for (const { ws } of [editor, reader]) {
  ws.on('connected', () => { acknowledged += 1; if (acknowledged === 2) setTimeout(() => print({ ready: true }), 300); });
}

let versions = 0;
editor.client.subscribe({ query: changed, variables: { id: articleId } }).subscribe({
  next: ({ data, error }) => {
    print({ who: 'editor', data, error: error?.message });
    versions += 1;
    if (versions === 2) setTimeout(() => process.exit(0), 300);
  },
  error: (error) => { print({ who: 'editor', error: error.message }); process.exit(1); },
});
reader.client.subscribe({ query: changed, variables: { id: articleId } }).subscribe({
  next: ({ data, error }) => print({ who: 'reader', data, error: error?.message }),
  error: (error) => print({ who: 'reader', error: error.message }),
});
reader.client.subscribe({ query: published }).subscribe({
  next: ({ data }) => print({ who: 'reader-published', data }),
});
setTimeout(() => { print({ timeout: true }); process.exit(2); }, 30000);
