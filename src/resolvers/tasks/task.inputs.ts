import { ArrayMaxSize, IsOptional, Length, Matches, MaxLength, NotContains } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { OrderDirection, TaskOrderField, TaskPriority, TaskStatus } from '../../entities/enums';
import { NOT_BLANK } from '../../lib/text';

/** PostgreSQL text cannot hold NUL: refused here, not as a failed statement. */
const NUL = '\u0000';

@InputType({ description: 'A new task' })
export class CreateTaskInput {
  @Field(() => String, { description: '1 to 200 characters' })
  @Length(1, 200, { message: 'title must be 1 to 200 characters' })
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  @NotContains(NUL, { message: 'title must not contain NUL characters' })
  title!: string;

  @Field(() => String, { nullable: true, description: 'Up to 10,000 characters' })
  @IsOptional()
  @MaxLength(10_000, { message: 'description must be at most 10000 characters' })
  @NotContains(NUL, { message: 'description must not contain NUL characters' })
  description?: string | null;

  @Field(() => TaskStatus, { nullable: true, description: 'TODO when absent' })
  status?: TaskStatus | null;

  @Field(() => TaskPriority, { nullable: true, description: 'MEDIUM when absent' })
  priority?: TaskPriority | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the task is due (UTC); absent = no due date',
  })
  dueDate?: Date | null;
}

@InputType({ description: 'Task changes; absent fields stay, null clears description or dueDate' })
export class UpdateTaskInput {
  @Field(() => String, { nullable: true, description: '1 to 200 characters' })
  @IsOptional()
  @Length(1, 200, { message: 'title must be 1 to 200 characters' })
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  @NotContains(NUL, { message: 'title must not contain NUL characters' })
  title?: string | null;

  @Field(() => String, { nullable: true, description: 'Up to 10,000 characters; null clears' })
  @IsOptional()
  @MaxLength(10_000, { message: 'description must be at most 10000 characters' })
  @NotContains(NUL, { message: 'description must not contain NUL characters' })
  description?: string | null;

  @Field(() => TaskStatus, {
    nullable: true,
    description:
      'Moving to DONE sets completedAt, to any other status clears it; null answers BAD_USER_INPUT',
  })
  status?: TaskStatus | null;

  @Field(() => TaskPriority, {
    nullable: true,
    description: 'The new priority; null answers BAD_USER_INPUT',
  })
  priority?: TaskPriority | null;

  @Field(() => Date, { nullable: true, description: 'null clears' })
  dueDate?: Date | null;
}

@InputType({ description: 'Narrows a task list; all given conditions must hold' })
export class TaskFilter {
  @Field(() => [TaskStatus], { nullable: true, description: 'Any of these statuses' })
  @IsOptional()
  @ArrayMaxSize(3)
  status?: TaskStatus[] | null;

  @Field(() => [TaskPriority], { nullable: true, description: 'Any of these priorities' })
  @IsOptional()
  @ArrayMaxSize(4)
  priority?: TaskPriority[] | null;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive text in the title or description',
  })
  @IsOptional()
  @Length(1, 200, { message: 'search must be 1 to 200 characters' })
  @NotContains(NUL, { message: 'search must not contain NUL characters' })
  search?: string | null;

  @Field(() => Date, { nullable: true, description: 'Due strictly before' })
  dueBefore?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Due strictly after' })
  dueAfter?: Date | null;
}

@InputType({ description: 'Sort order; ties are broken by id' })
export class TaskOrder {
  @Field(() => TaskOrderField, { description: 'What to sort by' })
  field!: TaskOrderField;

  @Field(() => OrderDirection, { description: 'Ascending or descending' })
  direction!: OrderDirection;
}
