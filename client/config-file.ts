/** Finds and reads EvolForge's optional config file (JSON or YAML), with errors that name file, line and field. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { ConfigFileSchema, type ConfigFile } from '../core/config';
import { describeIssues, UserError } from '../core/validation';

export const DEFAULT_CONFIG_FILES = ['evolforge.config.json', 'evolforge.config.yaml', 'evolforge.config.yml'];

/** The config file named by --config or EVOL_CONFIG, else the first default file in cwd, else none. */
export function loadConfigFile(
  explicit: string | undefined,
  cwd = process.cwd(),
): { file?: ConfigFile; path?: string } {
  const named = explicit ?? process.env.EVOL_CONFIG;
  const candidate = named
    ? path.resolve(cwd, named)
    : DEFAULT_CONFIG_FILES.map((f) => path.join(cwd, f)).find((f) => fs.existsSync(f));
  if (!candidate) return {};
  let text: string;
  try {
    text = fs.readFileSync(candidate, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the config file ${candidate}: ${(err as Error).message}`);
  }
  text = text.replace(/^\uFEFF/, '');
  let data: unknown;
  if (/\.ya?ml$/i.test(candidate)) {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new UserError(`${candidate}:${e.linePos?.[0].line ?? '?'}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    data = doc.toJS();
  } else {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${candidate}: invalid JSON: ${(err as Error).message}. Fix the syntax or remove the file.`);
    }
  }
  const parsed = ConfigFileSchema.safeParse(data ?? {});
  if (!parsed.success) throw new UserError(`${candidate}: ${describeIssues(parsed.error.issues)}`);
  return { file: parsed.data, path: candidate };
}
