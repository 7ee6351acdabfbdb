import { ObjectType } from 'type-graphql';
import { Task } from '../../entities';
import { connectionType } from '../../lib/pagination';

@ObjectType('TaskConnection', {
  simpleResolvers: true,
  description: 'A page of tasks',
})
export class TaskConnection extends connectionType(Task, 'Task') {}
