import { JSONScalar } from '../../schema/scalars';
import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../../entities/enums';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { Tool } from '../../entities';
import type { Services } from '../../services';
import {
  CreateToolInput,
  ToolConnection,
  ToolInvocation,
  ToolsArgs,
  UpdateToolInput,
} from './tool.types';

@Resolver(() => Tool)
export class ToolResolver {
  /**
   * Where the gateway calls the tool: for admins signed in with an access token. Anyone else
   * reads null, without an error, so that a tool list never fails because this field was asked.
   */
  @FieldResolver(() => String, {
    nullable: true,
    description:
      'The upstream URL the gateway calls; null for a built-in tool, and for anyone but an admin signed in with an access token',
  })
  endpointUrl(@Root() tool: Pick<Tool, 'endpointUrl'>, @Ctx() ctx: Context): string | null {
    const v = ctx.viewer;
    return v.kind === 'user' && v.via === 'jwt' && v.account.role === Role.ADMIN
      ? tool.endpointUrl
      : null;
  }

  constructor(private readonly services: Services) {}

  @Query(() => ToolConnection, {
    description:
      'Active tools, by slug; any signed-in user (an API key needs TOOLS_INVOKE). Each shows its requiredTier.',
  })
  tools(@Args(() => ToolsArgs) args: ToolsArgs, @Ctx() ctx: Context): ToolConnection {
    return this.services.tools.list(ctx.em, args);
  }

  @Query(() => Tool, { nullable: true, description: 'An active tool by slug; null if none' })
  tool(
    @Arg('slug', () => String, { description: 'The tool’s slug, as in Tool.slug' }) slug: string,
    @Ctx() ctx: Context,
  ): Promise<Tool | null> {
    return this.services.tools.bySlug(ctx.em, slug);
  }

  @Mutation(() => ToolInvocation, {
    description:
      'Runs a tool and charges its tokens. A repeated idempotencyKey with the same input replays the stored result.',
  })
  invokeTool(
    @Arg('slug', () => String, {
      description:
        'The tool’s slug; unknown or inactive answers NOT_FOUND, a tool above the caller’s plan FORBIDDEN',
    })
    slug: string,
    @Arg('input', () => JSONScalar, { description: 'Must match the tool’s inputSchema' })
    input: unknown,
    @Arg('idempotencyKey', () => String, {
      nullable: true,
      description: 'Unique per user; kept with the call',
    })
    idempotencyKey: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<ToolInvocation> {
    return this.services.invocations.invoke(ctx.em, ctx.loaders, signedIn(ctx), ctx.requestId, {
      slug,
      input,
      // An Idempotency-Key header on the request stands in for the argument.
      idempotencyKey: idempotencyKey ?? ctx.idempotencyKey,
    });
  }

  @Mutation(() => Tool, { description: 'ADMIN: registers a tool; audited' })
  createTool(
    @Arg('input', () => CreateToolInput, {
      description: 'The new tool; a slug already taken answers CONFLICT',
    })
    input: CreateToolInput,
    @Ctx() ctx: Context,
  ): Promise<Tool> {
    return this.services.tools.create(ctx.em, signedIn(ctx), input);
  }

  @Mutation(() => Tool, { description: 'ADMIN: changes a tool; audited' })
  updateTool(
    @Arg('id', () => ID, { description: 'The tool’s id; NOT_FOUND if there is none' })
    id: string,
    @Arg('input', () => UpdateToolInput, {
      description: 'The changes; absent fields stay, null is refused but for endpointUrl',
    })
    input: UpdateToolInput,
    @Ctx() ctx: Context,
  ): Promise<Tool> {
    return this.services.tools.update(ctx.em, signedIn(ctx), id, input);
  }
}
