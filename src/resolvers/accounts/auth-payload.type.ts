import { Field, ObjectType } from 'type-graphql';
import { User } from '../../entities';

@ObjectType({
  simpleResolvers: true,
  description: 'Tokens for a signed-in session',
})
export class AuthPayload {
  @Field(() => String, { description: 'JWT for `Authorization: Bearer`; short-lived' })
  accessToken!: string;

  @Field(() => String, {
    description: 'Opaque; exchange with refreshToken for new tokens. Each works once.',
  })
  refreshToken!: string;

  @Field(() => Date, { description: 'When accessToken stops working (UTC): refresh before then' })
  accessTokenExpiresAt!: Date;

  @Field(() => User, { description: 'The account signed in' })
  user!: User;
}
