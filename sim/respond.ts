/** Simulated responder answers: a short intro, a few numbered points and a conclusion. */
import { prngFor } from '../core/prng';
import { pick, pickDistinct, salientWords, topicPhrase } from './text';

/** Roughly one request in 25 gets this refusal, so elimination rule 2 shows up in demos. */
export const SIM_APOLOGY = "I'm sorry, but I can't help with that request.";

const INTROS: Array<(topic: string) => string> = [
  (topic) =>
    `Here is a structured answer about ${topic}, covering the main ideas and how they fit together in practice.`,
  (topic) => `When it comes to ${topic}, a few core ideas go a long way, so let us walk through them in order.`,
  (topic) => `To answer this well, it helps to look at ${topic} from several angles, starting with the basics.`,
];

const POINTS: Array<(word: string) => string> = [
  (w) =>
    `Start with the fundamentals of ${w}: define the key terms clearly so that every later step rests on solid ground.`,
  (w) =>
    `Consider how ${w} behaves in realistic situations, since textbook cases often hide the practical difficulties.`,
  (w) =>
    `Look at the common mistakes people make with ${w}, and note how a careful check early on avoids most of them.`,
  (w) =>
    `Compare ${w} with related alternatives, weighing cost, effort and reliability before settling on one approach.`,
  (w) => `Think about the people affected by ${w}, because their needs decide which trade-offs are acceptable.`,
  (w) =>
    `Measure results involving ${w} wherever possible; concrete numbers make it easier to judge whether something works.`,
  (w) =>
    `Review the assumptions behind ${w} regularly, as conditions change and an earlier good choice may no longer fit.`,
  (w) => `Record each decision about ${w} briefly, so that others can follow the reasoning and build on it later.`,
];

const CONCLUSIONS: Array<(topic: string) => string> = [
  (topic) =>
    `In short, a clear grasp of ${topic}, combined with careful checking and honest comparison, leads to sound results.`,
  (topic) =>
    `Taken together, these points give a practical framework for ${topic} that can be adapted to most situations.`,
  (topic) =>
    `Overall, approaching ${topic} step by step keeps the work manageable and makes the final answer easier to trust.`,
];

export function answerRequest(instruction: string): string {
  const random = prngFor('respond', instruction);
  if (random() < 0.04) return SIM_APOLOGY;

  const words = salientWords(instruction);
  const topic = topicPhrase(words);
  const pointCount = 3 + Math.floor(random() * 3);
  const points = pickDistinct(POINTS, pointCount, random).map(
    (point, index) => `${index + 1}. ${point(words[index % Math.max(words.length, 1)] ?? topic)}`,
  );
  return [pick(INTROS, random)(topic), points.join('\n'), pick(CONCLUSIONS, random)(topic)].join('\n\n');
}
