// Placeholder: replaced by the dev-server global teardown.
export default async function globalTeardown(): Promise<void> {}
