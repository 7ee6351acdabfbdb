import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../../auth/viewer';
import { Tool } from '../../entities';
import { PlanTier } from '../../entities/enums';
import { BadUserInputError, ConflictError, NotFoundError } from '../../errors';
import { SLUG_KEY } from '../../entities/tool.repository';
import type { Clock } from '../../lib/clock';
import { requireId } from '../../lib/ids';
import { pageSize } from '../../lib/pagination';
import type { AuditService } from '../../audit/audit.service';
import { builtinTools, getBuiltinTool } from '../../tools/builtins';
import type { InputValidator } from './input-validator';
import {
  type CreateToolInput,
  ToolConnection,
  type ToolsArgs,
  type UpdateToolInput,
} from './tool.types';
import { endpointHostRefusal, literalAddressRefusal } from '../../upstream/network-policy';

function snapshot(tool: Tool) {
  return {
    slug: tool.slug,
    name: tool.name,
    description: tool.description,
    category: tool.category,
    requiredTier: tool.requiredTier,
    inputSchema: tool.inputSchema,
    maxOutputTokens: tool.maxOutputTokens,
    endpointUrl: tool.endpointUrl,
    isActive: tool.isActive,
  };
}

export class ToolService {
  constructor(
    private readonly audit: AuditService,
    private readonly validator: InputValidator,
    private readonly network: { hostAllowlist: string[]; allowPrivateNetworks: boolean },
    private readonly clock: Clock,
  ) {}

  /** Active tools by slug; every tier's tools are listed, with their requiredTier. */
  list(em: EntityManager, args: ToolsArgs): ToolConnection {
    const first = pageSize(args.first);
    const repo = em.getRepository(Tool);
    return new ToolConnection({
      page: () => repo.page(args.filter, first, args.after),
      count: () => repo.total(args.filter),
    });
  }

  async bySlug(em: EntityManager, slug: string): Promise<Tool | null> {
    if (!SLUG_KEY.test(slug)) return null;
    return em.findOne(Tool, { slug, isActive: true });
  }

  async create(em: EntityManager, actor: SignedInViewer, input: CreateToolInput): Promise<Tool> {
    this.validator.checkSchema(input.inputSchema);
    const endpointUrl = this.checkEndpoint(input.slug, input.endpointUrl ?? null);
    try {
      return await em.transactional(async (tx) => {
        const now = this.clock.now();
        const tool = tx.create(Tool, {
          slug: input.slug,
          name: input.name.trim(),
          description: input.description.trim(),
          category: input.category.trim(),
          requiredTier: input.requiredTier,
          inputSchema: input.inputSchema,
          maxOutputTokens: input.maxOutputTokens,
          endpointUrl,
          createdAt: now,
          updatedAt: now,
        });
        this.audit.record(tx, actor, 'tool.create', 'Tool', tool.id, {
          before: null,
          after: snapshot(tool),
        });
        await tx.flush();
        return tool;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new ConflictError(`A tool with slug ${input.slug} already exists`);
      }
      throw err;
    }
  }

  async update(
    em: EntityManager,
    actor: SignedInViewer,
    id: string,
    input: UpdateToolInput,
  ): Promise<Tool> {
    requireId(id, 'id');
    if (input.inputSchema !== undefined && input.inputSchema !== null) {
      this.validator.checkSchema(input.inputSchema);
    }
    return em.transactional(async (tx) => {
      const tool = await tx.findOne(Tool, { id });
      if (!tool) throw new NotFoundError('Tool');
      const before = snapshot(tool);
      for (const field of ['name', 'description', 'category'] as const) {
        const value = input[field];
        if (value === null) throw new BadUserInputError(`${field} cannot be null`, [field]);
        if (value !== undefined) tool[field] = value.trim();
      }
      for (const field of ['requiredTier', 'inputSchema', 'maxOutputTokens', 'isActive'] as const) {
        if (input[field] === null) throw new BadUserInputError(`${field} cannot be null`, [field]);
      }
      if (input.requiredTier) tool.requiredTier = input.requiredTier;
      if (input.inputSchema) tool.inputSchema = input.inputSchema;
      if (input.maxOutputTokens) tool.maxOutputTokens = input.maxOutputTokens;
      if (input.isActive !== undefined && input.isActive !== null) tool.isActive = input.isActive;
      if (input.endpointUrl !== undefined) {
        tool.endpointUrl = this.checkEndpoint(tool.slug, input.endpointUrl);
      }
      tool.updatedAt = this.clock.now();
      this.audit.record(tx, actor, 'tool.update', 'Tool', tool.id, {
        before,
        after: snapshot(tool),
      });
      await tx.flush();
      return tool;
    });
  }

  /** http(s) only, on an allowed host when an allow-list is set; none means a built-in. */
  private checkEndpoint(slug: string, endpointUrl: string | null): string | null {
    if (endpointUrl === null) {
      if (!getBuiltinTool(slug)) {
        throw new BadUserInputError(
          `There is no built-in tool ${slug}; give an endpointUrl (built in: ${[...builtinTools.keys()].join(', ')})`,
          ['endpointUrl'],
        );
      }
      return null;
    }
    let url: URL;
    try {
      url = new URL(endpointUrl);
    } catch {
      throw new BadUserInputError('endpointUrl must be an absolute http(s) URL', ['endpointUrl']);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new BadUserInputError('endpointUrl must use http or https', ['endpointUrl']);
    }
    if (url.username || url.password) {
      throw new BadUserInputError('endpointUrl must not carry credentials', ['endpointUrl']);
    }
    if (!this.hostListed(url)) {
      throw new BadUserInputError(`endpointUrl host ${url.hostname} is not allowed`, [
        'endpointUrl',
      ]);
    }
    const refusal = this.network.allowPrivateNetworks ? null : endpointHostRefusal(url.hostname);
    if (refusal !== null) {
      throw new BadUserInputError(`endpointUrl must not be ${refusal}`, ['endpointUrl']);
    }
    return url.toString();
  }

  /**
   * Adds the built-in tools that are missing; safe when instances start together (a tool already
   * there, or added meanwhile by another instance, is left as it is). The number added.
   */
  async seedBuiltins(em: EntityManager): Promise<number> {
    const now = this.clock.now();
    const rows = [...builtinTools.values()].map((builtin) => ({
      id: randomUUID(),
      slug: builtin.slug,
      name: builtin.name,
      description: builtin.description,
      category: builtin.category,
      requiredTier: builtin.requiredTier ?? PlanTier.FREE,
      inputSchema: builtin.inputSchema,
      maxOutputTokens: builtin.maxOutputTokens,
      endpointUrl: null,
      isActive: true,
      createdAt: now,
      updatedAt: now,
    }));
    return em.getRepository(Tool).insertMissing(rows);
  }

  /**
   * Whether the hosts allow-list and the private-network rule admit `url`, checked again at call
   * time (the configuration may have changed since the tool was saved). Host names, loopback ones
   * included, are checked on the addresses they resolve to when the upstream client connects.
   */
  endpointAllowed(endpointUrl: string): boolean {
    let url: URL;
    try {
      url = new URL(endpointUrl);
    } catch {
      return false;
    }
    return (
      this.hostListed(url) &&
      (this.network.allowPrivateNetworks || literalAddressRefusal(url.hostname) === null)
    );
  }

  private hostListed(url: URL): boolean {
    const { hostAllowlist } = this.network;
    return hostAllowlist.length === 0 || hostAllowlist.includes(url.hostname.toLowerCase());
  }
}
