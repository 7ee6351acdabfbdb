import { ArrayMaxSize, ArrayMinSize, Length, Matches, NotContains } from 'class-validator';
import { Field, InputType, ObjectType } from 'type-graphql';
import { ApiKey } from '../../entities';
import { ApiKeyScope } from '../../entities/enums';
import { NOT_BLANK } from '../../lib/text';

@InputType({ description: 'A new API key' })
export class CreateApiKeyInput {
  @Field(() => String, { description: '1 to 100 characters' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  @NotContains('\u0000', { message: 'name must not contain NUL characters' })
  name!: string;

  @Field(() => [ApiKeyScope], { description: 'At least one' })
  @ArrayMinSize(1, { message: 'scopes must name at least one scope' })
  @ArrayMaxSize(4)
  scopes!: ApiKeyScope[];

  @Field(() => Date, { nullable: true, description: 'In the future; absent = never expires' })
  expiresAt?: Date | null;
}

@ObjectType({
  simpleResolvers: true,
  description: 'A new key; secret is shown this once only',
})
export class ApiKeyCreated {
  @Field(() => ApiKey, { description: 'The new key as apiKeys lists it' })
  apiKey!: ApiKey;

  @Field(() => String, {
    description: 'sk_<prefix>_<secret>: store it now, it is never shown again',
  })
  secret!: string;
}
