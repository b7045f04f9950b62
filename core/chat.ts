/** A chat message as the OpenAI chat-completions API takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The placeholder an operation template puts where the instruction goes. */
export const INSTRUCTION_PLACEHOLDER = '{instruction}';

/** Fills every placeholder of a template; text inside the instruction itself is never touched. */
export function fillTemplate(template: string, instruction: string): string {
  return template.split(INSTRUCTION_PLACEHOLDER).join(instruction);
}
