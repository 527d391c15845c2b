// Masthead's GraphiQL: the IDE with the explorer plugin, querying the page's own URL. The
// saved tabs (a default query and the reference operations) come from the page's
// data-tabs attribute, so that nothing runs inline (Content-Security-Policy: default-src 'self').
'use strict';

(function start() {
  const root = document.getElementById('graphiql');
  const tabs = JSON.parse(root.dataset.tabs);
  // Subscriptions go over graphql-transport-ws to the same URL (same origin: 'self').
  const scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  const fetcher = GraphiQL.createFetcher({
    url: window.location.origin + window.location.pathname,
    subscriptionUrl: scheme + window.location.host + window.location.pathname,
  });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultTabs: tabs,
      defaultQuery: tabs[0].query,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    }),
  );
})();
