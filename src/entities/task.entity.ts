import { randomUUID } from 'node:crypto';
import {
  Entity,
  EntityRepositoryType,
  Enum,
  Index,
  ManyToOne,
  PrimaryKey,
  Property,
  type Ref,
  OptionalProps,
} from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { TaskPriority, TaskStatus } from './enums';
import { User } from './user.entity';
import { TaskRepository } from './task.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'A task owned by one user',
})
@Entity({ tableName: 'tasks', repository: () => TaskRepository })
@Index({ name: 'tasks_owner_created_idx', properties: ['owner', 'createdAt', 'id'] })
@Index({ name: 'tasks_owner_updated_idx', properties: ['owner', 'updatedAt', 'id'] })
@Index({ name: 'tasks_owner_priority_idx', properties: ['owner', 'priority', 'id'] })
@Index({
  name: 'tasks_owner_due_idx',
  expression:
    'create index "tasks_owner_due_idx" on "tasks" ("owner_id", coalesce("due_date", \'infinity\'::timestamptz), "id")',
})
@Index({ name: 'tasks_created_idx', properties: ['createdAt', 'id'] })
// The admin's allTasks in every order, over everyone's tasks.
@Index({ name: 'tasks_updated_idx', properties: ['updatedAt', 'id'] })
@Index({ name: 'tasks_priority_idx', properties: ['priority', 'id'] })
@Index({
  name: 'tasks_due_idx',
  expression:
    'create index "tasks_due_idx" on "tasks" (coalesce("due_date", \'infinity\'::timestamptz), "id")',
})
export class Task {
  [OptionalProps]?:
    | 'description'
    | 'status'
    | 'priority'
    | 'dueDate'
    | 'completedAt'
    | 'createdAt'
    | 'updatedAt';

  [EntityRepositoryType]?: TaskRepository;

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  owner!: Ref<User>;

  @Field(() => String)
  @Property({ type: 'text' })
  title!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => TaskStatus)
  @Enum({ items: () => TaskStatus, nativeEnumName: 'task_status' })
  status: TaskStatus = TaskStatus.TODO;

  @Field(() => TaskPriority)
  @Enum({ items: () => TaskPriority, nativeEnumName: 'task_priority' })
  priority: TaskPriority = TaskPriority.MEDIUM;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  dueDate: Date | null = null;

  @Field(() => Date, { nullable: true, description: 'Set when the task became DONE' })
  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
