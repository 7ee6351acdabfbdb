import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLSchema,
} from 'graphql';
import { buildAppSchema } from '../../src/schema/build-schema';

const COMMITTED_SDL = join(__dirname, '../..', 'src/schema/schema.graphql');

/**
 * Every named type, field, argument, input field and enum value of `schema` without a
 * description, as coordinates: `Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`.
 * Introspection types and the built-in scalars (String, Int, Float, Boolean, ID) are left out.
 */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (description: string | null | undefined, coordinate: string) => {
    if (!description?.trim()) missing.push(coordinate);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    check(type.description, type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(field.description, `${type.name}.${field.name}`);
        for (const arg of field.args) {
          check(arg.description, `${type.name}.${field.name}(${arg.name}:)`);
        }
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(field.description, `${type.name}.${field.name}`);
      }
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(value.description, `${type.name}.${value.name}`);
    }
  }
  return missing.sort();
}

describe('schema descriptions', () => {
  it('finds every kind of element that lacks one', () => {
    const schema = buildSchema(`
      """Described"""
      type Query {
        a(b: Int): String
        """Described"""
        c: E
      }
      input I { f: Int }
      enum E { V }
      scalar S
      type Unused { g(x: I, y: S): Int }
    `);
    expect(undescribed(schema)).toEqual([
      'E',
      'E.V',
      'I',
      'I.f',
      'Query.a',
      'Query.a(b:)',
      'S',
      'Unused',
      'Unused.g',
      'Unused.g(x:)',
      'Unused.g(y:)',
    ]);
  });

  it('describes every type, field, argument, input field and enum value the code builds', () => {
    expect(undescribed(buildAppSchema())).toEqual([]);
  });

  it('describes every element of the committed schema.graphql', () => {
    expect(undescribed(buildSchema(readFileSync(COMMITTED_SDL, 'utf8')))).toEqual([]);
  });
});
