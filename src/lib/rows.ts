import type { EntityManager } from '@mikro-orm/postgresql';
import { ReferenceKind, type EntityMetadata } from '@mikro-orm/core';

type Row = Record<string, unknown>;
type Mapper = (row: Row) => Row;

const mappers = new WeakMap<EntityMetadata, Mapper>();

/**
 * Maps a row of a read-only page to a plain object shaped like the entity (to-one relations
 * as `{ id }`), without hydrating it into the identity map: on a page of 100 rows that is
 * most of the ORM's cost, and nothing on a page is ever flushed.
 */
export function toPlain<T>(em: EntityManager, entity: new (...args: never[]) => T, row: Row): T {
  const meta = em.getMetadata().get(entity.name);
  let mapper = mappers.get(meta);
  if (!mapper) {
    const fields = meta.props.flatMap((prop) => {
      if (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.EMBEDDED) {
        return [
          {
            name: prop.name,
            column: prop.fieldNames[0]!,
            ref: false,
            date: prop.runtimeType === 'Date',
          },
        ];
      }
      if (
        prop.kind === ReferenceKind.MANY_TO_ONE ||
        (prop.kind === ReferenceKind.ONE_TO_ONE && prop.owner)
      ) {
        return [{ name: prop.name, column: prop.fieldNames[0]!, ref: !prop.mapToPk, date: false }];
      }
      return [];
    });
    const platform = em.getPlatform();
    mapper = (source) => {
      const out: Row = {};
      for (const field of fields) {
        const value = source[field.column];
        if (value == null) out[field.name] = null;
        else if (field.ref) out[field.name] = { id: value };
        else if (field.date && !(value instanceof Date))
          out[field.name] = platform.parseDate(value as string);
        else out[field.name] = value;
      }
      return out;
    };
    mappers.set(meta, mapper);
  }
  return mapper(row) as T;
}
