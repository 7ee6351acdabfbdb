import { AuditService } from './audit/audit.service';
import type { PasswordHasher } from './auth/passwords';
import type { AccessTokens } from './auth/tokens';
import type { Config } from './config';
import type { Clock } from './lib/clock';
import type { RateLimiter } from './lib/rate-limit';
import type { Metrics } from './metrics';
import { AccountService } from './resolvers/accounts/account.service';
import { AdminService } from './resolvers/admin/admin.service';
import { StatsService } from './resolvers/admin/stats.service';
import { ApiKeyService } from './resolvers/api-keys/api-key.service';
import { SubscriptionService } from './resolvers/plans/subscription.service';
import { TaskService } from './resolvers/tasks/task.service';
import { InputValidator } from './resolvers/tools/input-validator';
import { InvocationService } from './resolvers/tools/invocation.service';
import { ToolService } from './resolvers/tools/tool.service';
import { UsageService } from './resolvers/usage/usage.service';
import type { UpstreamClient } from './upstream/upstream-client';

/** The app's services, built once per app by createServices and handed to resolvers. */
export interface Services {
  accounts: AccountService;
  tasks: TaskService;
  admin: AdminService;
  audit: AuditService;
  stats: StatsService;
  subscriptions: SubscriptionService;
  tools: ToolService;
  invocations: InvocationService;
  usage: UsageService;
  apiKeys: ApiKeyService;
}

/** What the services are built on: built by createApp, each closed by it. */
export interface ServiceDeps {
  clock: Clock;
  passwords: PasswordHasher;
  accessTokens: AccessTokens;
  rateLimiter: RateLimiter;
  upstream: UpstreamClient;
  metrics: Metrics;
}

/** The object graph of the services: who gets which store, clock, limit and setting. */
export function createServices(config: Config, deps: ServiceDeps): Services {
  const { clock } = deps;
  const validator = new InputValidator();
  const audit = new AuditService(clock);
  const subscriptions = new SubscriptionService(audit, clock);
  const tools = new ToolService(
    audit,
    validator,
    {
      hostAllowlist: config.toolHostAllowlist,
      allowPrivateNetworks: config.toolAllowPrivateNetworks,
    },
    clock,
  );
  return {
    accounts: new AccountService(
      deps.passwords,
      deps.accessTokens,
      config.refreshTokenTtlDays,
      clock,
      deps.rateLimiter,
      {
        perAddress: config.authRatePerMinute,
        perEmail: config.loginRatePerEmailPerMinute,
        refreshPerAddress: config.refreshRatePerMinute,
      },
    ),
    tasks: new TaskService(audit, clock),
    admin: new AdminService(audit, clock),
    audit,
    stats: new StatsService(clock),
    subscriptions,
    tools,
    invocations: new InvocationService(
      tools,
      subscriptions,
      validator,
      deps.upstream,
      deps.rateLimiter,
      clock,
      config.toolTimeoutMs + 5_000,
      deps.metrics,
    ),
    usage: new UsageService(clock),
    apiKeys: new ApiKeyService(clock),
  };
}
