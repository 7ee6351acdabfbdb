import type { AccountService } from './resolvers/accounts/account.service';
import type { AdminService } from './resolvers/admin/admin.service';
import type { ApiKeyService } from './resolvers/api-keys/api-key.service';
import type { AuditService } from './audit/audit.service';
import type { StatsService } from './resolvers/admin/stats.service';
import type { InvocationService } from './resolvers/tools/invocation.service';
import type { SubscriptionService } from './resolvers/plans/subscription.service';
import type { TaskService } from './resolvers/tasks/task.service';
import type { ToolService } from './resolvers/tools/tool.service';
import type { UsageService } from './resolvers/usage/usage.service';

/** The app's services, built once per app in createApp and handed to resolvers. */
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
