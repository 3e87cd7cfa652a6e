// Errors of parsing and rendering a config-file template: they name the file and the line.

export class TemplateError extends Error {
  constructor(
    /** Name of the template, the config file name. */
    readonly file: string,
    /** 1-based line of the template the error is about. */
    readonly line: number,
    /** What went wrong, without the location. */
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'TemplateError';
  }
}
