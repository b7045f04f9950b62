// Placeholder: replaced by the dev-server global setup.
export default async function globalSetup(): Promise<void> {}
