import { IsEmail, IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { NO_INVISIBLE, NOT_BLANK } from '../../lib/text';

@InputType({ description: 'A new account' })
export class RegisterInput {
  @Field(() => String, { description: 'Case-insensitive and unique' })
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be a valid email address' })
  @Matches(NO_INVISIBLE, { message: 'email must not contain invisible or control characters' })
  email!: string;

  @Field(() => String, { description: '8 to 128 characters' })
  @Length(8, 128, { message: 'password must be 8 to 128 characters' })
  password!: string;

  @Field(() => String, { description: '1 to 100 characters' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name!: string;
}

@InputType({ description: 'Credentials' })
export class LoginInput {
  @Field(() => String, { description: 'Case-insensitive; up to 254 characters' })
  @MaxLength(254)
  email!: string;

  @Field(() => String, { description: 'Up to 128 characters' })
  @MaxLength(128, { message: 'password must be at most 128 characters' })
  password!: string;
}

@InputType({ description: 'Profile changes; absent fields stay as they are' })
export class UpdateProfileInput {
  @Field(() => String, { nullable: true, description: '1 to 100 characters' })
  @IsOptional()
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name?: string | null;
}

@InputType({ description: 'A password change; signs out the caller’s other sessions' })
export class ChangePasswordInput {
  @Field(() => String, {
    description: 'The password in use now; a wrong one answers BAD_USER_INPUT',
  })
  @MaxLength(128)
  currentPassword!: string;

  @Field(() => String, { description: '8 to 128 characters' })
  @Length(8, 128, { message: 'newPassword must be 8 to 128 characters' })
  newPassword!: string;
}
