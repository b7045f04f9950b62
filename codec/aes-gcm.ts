/**
 * A payload codec that encrypts every payload with AES-256-GCM before it leaves the worker or client,
 * so the Temporal server stores only ciphertext. Each payload names the key that sealed it, which makes
 * rotation a matter of adding a key: encode with the current one, decode with whichever one is named.
 * It runs in the worker and the client, never in workflow code (Node crypto is not deterministic).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { describeIssues, UserError } from '../core/validation';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const text = new TextEncoder();
const fromText = new TextDecoder();

/** Key id to raw key. */
export type KeyRing = ReadonlyMap<string, Buffer>;

export interface AesGcmCodecOptions {
  /** The key new payloads are sealed with. */
  currentKeyId: string;
  /** Every key a payload may name, the current one included. */
  keys: KeyRing;
}

export class AesGcmCodec implements PayloadCodec {
  readonly currentKeyId: string;
  private readonly keys: KeyRing;

  constructor(options: AesGcmCodecOptions) {
    for (const [id, key] of options.keys) {
      if (key.length !== KEY_BYTES) throw new UserError(`encryption key "${id}" has ${key.length} bytes, not 32`);
    }
    if (!options.keys.has(options.currentKeyId)) {
      throw new UserError(`the current encryption key "${options.currentKeyId}" is not among the keys given`);
    }
    this.currentKeyId = options.currentKeyId;
    this.keys = options.keys;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: text.encode(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: text.encode(this.currentKeyId),
          [CIPHER_METADATA]: text.encode(CIPHER),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Payloads written before encryption was turned on stay readable.
      if (metadataText(payload, 'encoding') !== ENCRYPTED_ENCODING) return payload;
      const keyId = metadataText(payload, KEY_ID_METADATA);
      if (keyId === undefined) throw new Error(`an encrypted payload has no ${KEY_ID_METADATA} in its metadata`);
      const key = this.keys.get(keyId);
      if (!key) {
        throw new Error(
          `a payload is encrypted with key "${keyId}", which this process does not have (it has ${[...this.keys.keys()]
            .map((id) => `"${id}"`)
            .join(', ')}): add "${keyId}" to the keys of EVOL_CODEC_KEY_FILE`,
        );
      }
      const sealed = Buffer.from(payload.data ?? new Uint8Array());
      if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error(`an encrypted payload (key "${keyId}") is truncated`);
      const decipher = createDecipheriv(CIPHER, key, sealed.subarray(0, IV_BYTES));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([
          decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new Error(`an encrypted payload does not authenticate with key "${keyId}": wrong key or altered data`);
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

function metadataText(payload: Payload, name: string): string | undefined {
  const value = payload.metadata?.[name];
  return value ? fromText.decode(value) : undefined;
}

const KeyFileSchema = z
  .object({
    current: z.string().min(1),
    keys: z.record(z.string().min(1), z.string().min(1)),
  })
  .strict();

function decodeKey(id: string, base64: string, where: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new UserError(
      `${where}: key "${id}" must be 32 bytes in base64 (it decodes to ${key.length}); make one with \`openssl rand -base64 32\``,
    );
  }
  return key;
}

function readKeyFile(file: string): AesGcmCodecOptions {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read the key file EVOL_CODEC_KEY_FILE=${file}: ${(err as Error).message}`);
  }
  const parsed = KeyFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new UserError(
      `${file}: ${describeIssues(parsed.error.issues)}. Expected {"current": "id", "keys": {"id": "<base64 of 32 bytes>"}}`,
    );
  }
  const { current, keys } = parsed.data;
  if (!(current in keys)) throw new UserError(`${file}: the current key "${current}" is not among its keys`);
  return {
    currentKeyId: current,
    keys: new Map(Object.entries(keys).map(([id, base64]) => [id, decodeKey(id, base64, file)])),
  };
}

/**
 * The codec the environment asks for: a key file (EVOL_CODEC_KEY_FILE) for rotation, or one key
 * (EVOL_CODEC_KEY, named by EVOL_CODEC_KEY_ID, default "default"). Undefined when neither is set.
 */
export function loadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const file = env.EVOL_CODEC_KEY_FILE;
  const single = env.EVOL_CODEC_KEY;
  if (file && single) {
    throw new UserError('both EVOL_CODEC_KEY and EVOL_CODEC_KEY_FILE are set: keep one (the file can hold every key)');
  }
  if (file) return new AesGcmCodec(readKeyFile(file));
  if (!single) return undefined;
  const id = env.EVOL_CODEC_KEY_ID || 'default';
  return new AesGcmCodec({ currentKeyId: id, keys: new Map([[id, decodeKey(id, single, 'EVOL_CODEC_KEY')]]) });
}

/** A data converter that runs payloads through `codec`; the default converter when there is none. */
export function dataConverterFor(codec: PayloadCodec | undefined): DataConverter | undefined {
  return codec ? { payloadCodecs: [codec] } : undefined;
}
