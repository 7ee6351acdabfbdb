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

  @Field(() => ID, { description: 'The task’s id (a UUID)' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  owner!: Ref<User>;

  @Field(() => String, { description: 'Short title, 1 to 200 characters' })
  @Property({ type: 'text' })
  title!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Free text, up to 10,000 characters; null if none',
  })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => TaskStatus, { description: 'Where the task stands; TODO unless set' })
  @Enum({ items: () => TaskStatus, nativeEnumName: 'task_status' })
  status: TaskStatus = TaskStatus.TODO;

  @Field(() => TaskPriority, { description: 'How urgent the task is; MEDIUM unless set' })
  @Enum({ items: () => TaskPriority, nativeEnumName: 'task_priority' })
  priority: TaskPriority = TaskPriority.MEDIUM;

  @Field(() => Date, {
    nullable: true,
    description: 'When the task is due (UTC); null if it has no due date',
  })
  @Property({ type: 'timestamptz', nullable: true })
  dueDate: Date | null = null;

  @Field(() => Date, { nullable: true, description: 'Set when the task became DONE' })
  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Field(() => Date, { description: 'When the task was created (UTC)' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set by the services, from the app's clock, when they change the row (no onUpdate hook). */
  @Field(() => Date, { description: 'When the task last changed (UTC)' })
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
