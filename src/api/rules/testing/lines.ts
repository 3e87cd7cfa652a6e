import { fieldErrorBody, type FieldError } from '../../../machinery/errors.js';

/** `field: body` lines, as kube prints field errors. */
export function lines(errs: FieldError[]): string[] {
  return errs.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
}
