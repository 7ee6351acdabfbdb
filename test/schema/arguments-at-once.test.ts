import 'reflect-metadata';
import { graphql, type GraphQLSchema } from 'graphql';
import { Args, ArgsType, buildSchemaSync, Field, Int, Query, Resolver } from 'type-graphql';
import { validateArgumentsAtOnce } from '../../src/schema/arguments-at-once';

@ArgsType()
class PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number | null;
}

const calls: (number | null | undefined)[] = [];

@Resolver()
class PageResolver {
  @Query(() => Int)
  page(@Args(() => PageArgs) args: PageArgs): number {
    calls.push(args.first);
    return args.first ?? 20;
  }
}

/** A schema whose validateFn answers as `verdict` says, for the value it is given. */
function schemaWith(verdict: (value: PageArgs) => unknown): GraphQLSchema {
  return buildSchemaSync({
    resolvers: [PageResolver],
    validate: true,
    validateFn: (value) => verdict(value as PageArgs) as Promise<void>,
  });
}

const resolve = (schema: GraphQLSchema, args: Record<string, unknown>) =>
  schema.getQueryType()!.getFields().page!.resolve!(undefined, args, {}, {} as never);

let applied = false;
beforeAll(() => {
  applied = validateArgumentsAtOnce();
});
beforeEach(() => {
  calls.length = 0;
});

describe('type-graphql arguments validated at once', () => {
  it('applies to the pinned type-graphql (an upgrade that moves its validateArg fails here)', () => {
    expect(applied).toBe(true);
  });

  it('runs the resolver in the same call when the validateFn answers at once', () => {
    // type-graphql's own validateArg is an async function: this would be a promise.
    const result = resolve(
      schemaWith(() => undefined),
      { first: 5 },
    );
    expect(result).toBe(5);
    expect(calls).toEqual([5]);
  });

  it('still waits for a validateFn that returns a promise, and refuses what it rejects', async () => {
    const waited = resolve(
      schemaWith(() => Promise.resolve()),
      { first: 7 },
    );
    expect(waited).toBeInstanceOf(Promise);
    expect(calls).toEqual([]);
    await expect(waited).resolves.toBe(7);

    const refused = resolve(
      schemaWith(() => Promise.reject(new Error('too many'))),
      { first: 1000 },
    );
    await expect(refused).rejects.toThrow('too many');
    expect(calls).toEqual([7]);
  });

  it('turns a validateFn that throws into a rejection, as before, and never runs the resolver', async () => {
    const schema = schemaWith((value) => {
      if ((value.first ?? 0) > 100) throw new Error('first: at most 100');
      return undefined;
    });
    const refused = resolve(schema, { first: 1000 });
    expect(refused).toBeInstanceOf(Promise);
    await expect(refused).rejects.toThrow('first: at most 100');
    expect(calls).toEqual([]);
    // Through graphql-js: the refusal is the field's error, with nothing run.
    const answer = await graphql({ schema, source: '{ page(first: 1000) }' });
    expect(answer.errors?.[0]?.message).toBe('first: at most 100');
    expect(calls).toEqual([]);
  });

  it('is applied once however often schemas are built', () => {
    expect(validateArgumentsAtOnce()).toBe(true);
    expect(
      resolve(
        schemaWith(() => undefined),
        {},
      ),
    ).toBe(20);
  });
});
