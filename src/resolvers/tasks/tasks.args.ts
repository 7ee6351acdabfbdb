import { IsOptional, ValidateNested } from 'class-validator';
import { ArgsType, Field, ID, Int } from 'type-graphql';
import { TaskFilter, TaskOrder } from './task.inputs';

@ArgsType()
export class TaskPageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20)' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  after?: string | null;

  @Field(() => TaskFilter, { nullable: true, description: 'Only tasks that match; absent = all' })
  @IsOptional()
  @ValidateNested()
  filter?: TaskFilter | null;
}

@ArgsType()
export class TasksArgs extends TaskPageArgs {
  @Field(() => TaskOrder, {
    nullable: true,
    description: 'Default: newest first (CREATED_AT DESC)',
  })
  orderBy?: TaskOrder | null;
}

@ArgsType()
export class AllTasksArgs extends TasksArgs {
  @Field(() => ID, { nullable: true, description: 'Only this user’s tasks' })
  ownerId?: string | null;
}
