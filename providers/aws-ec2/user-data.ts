// cloud-init user-data: EC2 takes it base64-encoded and allows 16 KB of raw data before encoding.
// The SDK does not encode it for us, and the limit is checked before any API call.
import { InvalidConfigError } from '../errors.ts';
import { KIND } from './errors.ts';

export const USER_DATA_LIMIT_BYTES = 16_384;

/** Base64 of the UTF-8 user-data, or undefined when there is none. `where` names pool and type. */
export function encodeUserData(text: string | undefined, where: string): string | undefined {
  if (text === undefined || text === '') return undefined;
  const raw = Buffer.from(text, 'utf8');
  if (raw.byteLength > USER_DATA_LIMIT_BYTES) {
    throw new InvalidConfigError(
      `${where}: user-data is ${raw.byteLength} bytes; EC2 allows ${USER_DATA_LIMIT_BYTES} bytes before base64 ` +
        '(shrink it, e.g. let cloud-init #include the rest from a URL)',
      KIND, 'UserDataTooLarge',
    );
  }
  return raw.toString('base64');
}
