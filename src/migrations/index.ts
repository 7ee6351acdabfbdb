import { Migration20261122050617 } from './Migration20261122050617';
import { Migration20261122055120 } from './Migration20261122055120';
import { Migration20261201003910 } from './Migration20261201003910';
import { Migration20261201012944 } from './Migration20261201012944';
import { Migration20261201040000 } from './Migration20261201040000';
import { Migration20261201120000 } from './Migration20261201120000';
import { Migration20261201130000 } from './Migration20261201130000';
import { Migration20261201140000 } from './Migration20261201140000';
import { Migration20261202010000 } from './Migration20261202010000';
import { Migration20261202020000 } from './Migration20261202020000';
import { Migration20261202030000 } from './Migration20261202030000';
import { Migration20261202040000 } from './Migration20261202040000';

/** Every migration, oldest first: listed so that they run from TypeScript and from dist alike. */
export const migrationsList = [
  { name: 'Migration20261122050617', class: Migration20261122050617 },
  { name: 'Migration20261122055120', class: Migration20261122055120 },
  { name: 'Migration20261201003910', class: Migration20261201003910 },
  { name: 'Migration20261201012944', class: Migration20261201012944 },
  { name: 'Migration20261201040000', class: Migration20261201040000 },
  { name: 'Migration20261201120000', class: Migration20261201120000 },
  { name: 'Migration20261201130000', class: Migration20261201130000 },
  { name: 'Migration20261201140000', class: Migration20261201140000 },
  { name: 'Migration20261202010000', class: Migration20261202010000 },
  { name: 'Migration20261202020000', class: Migration20261202020000 },
  { name: 'Migration20261202030000', class: Migration20261202030000 },
  { name: 'Migration20261202040000', class: Migration20261202040000 },
];
