// Runs graphql-http's server audits (the GraphQL-over-HTTP spec's MUSTs and SHOULDs)
// against the URL given; prints each that is not ok and exits 1 if any is not.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
let notOk = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  if (result.status !== 'ok') {
    notOk += 1;
    console.log(`${result.status} ${audit.id} ${audit.name}: ${result.reason}`);
  }
}
console.log(`${notOk} audits not ok`);
process.exit(notOk === 0 ? 0 : 1);
