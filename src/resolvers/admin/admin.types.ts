import { IsOptional, Length, NotContains, ValidateNested } from 'class-validator';
import { ArgsType, Field, InputType, Int, ObjectType } from 'type-graphql';
import { User } from '../../entities';
import { Role } from '../../entities/enums';
import { connectionType } from '../../lib/pagination';

@ObjectType('UserConnection', {
  simpleResolvers: true,
  description: 'A page of users, newest first',
})
export class UserConnection extends connectionType(User, 'User') {}

@InputType({ description: 'Narrows the user list' })
export class UserFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive text in email or name' })
  @IsOptional()
  @Length(1, 200, { message: 'search must be 1 to 200 characters' })
  @NotContains('\u0000', { message: 'search must not contain NUL characters' })
  search?: string | null;

  @Field(() => Role, { nullable: true, description: 'Only accounts with this role' })
  role?: Role | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Only active (true) or only deactivated (false) accounts',
  })
  isActive?: boolean | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20)' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  after?: string | null;
}

@ArgsType()
export class UsersArgs extends PageArgs {
  @Field(() => UserFilter, {
    nullable: true,
    description: 'Only accounts that match; absent = all',
  })
  @IsOptional()
  @ValidateNested()
  filter?: UserFilter | null;
}
