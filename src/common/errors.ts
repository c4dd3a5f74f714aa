// An error that carries the HTTP status the API layer should answer with.

export class HttpError extends Error {
  /** `headers`: extra response headers (Retry-After, Allow, Location …). */
  constructor(readonly status: number, message: string, readonly headers?: Record<string, string>) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (m: string): HttpError => new HttpError(400, m);
export const forbidden = (m: string): HttpError => new HttpError(403, m);
export const notFound = (m: string): HttpError => new HttpError(404, m);
export const conflict = (m: string): HttpError => new HttpError(409, m);
export const unavailable = (m: string): HttpError => new HttpError(503, m);
