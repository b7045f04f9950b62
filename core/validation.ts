/** Turns zod issues into sentences that name the field and what to do. */
import type { z } from 'zod';

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const keys = (issue as { keys?: string[] }).keys ?? [];
        return `${field === '(top level)' ? '' : `${field}: `}unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')} (remove or rename ${keys.length > 1 ? 'them' : 'it'})`;
      }
      return `field "${field}": ${issue.message}`;
    })
    .join('; ');
}

/** An error meant for the user: the CLI prints its message alone, no stack trace. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
