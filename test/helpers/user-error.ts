import { UserError } from '../../core/validation';

/** The UserError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function userErrorOf(promise: Promise<unknown>): Promise<UserError> {
  const err = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}
