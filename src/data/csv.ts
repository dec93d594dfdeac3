// A small RFC-4180-style CSV reader: comma-separated fields, double-quoted fields that may hold
// commas, newlines and doubled quotes, LF or CRLF line ends, blank lines and `#` comment lines
// skipped. Every record keeps the line it started on, so errors can point at it.

import { UserError } from './errors.js';

export interface CsvRecords {
  records: string[][];
  /** 1-based line number where each record starts (what an editor shows). */
  lines: number[];
}

export interface ParseCsvOptions {
  delimiter?: string;
  /** Lines starting with this character are skipped. Default '#'; null keeps them. */
  comment?: string | null;
}

export function parseCsv(text: string, file: string, options: ParseCsvOptions = {}): CsvRecords {
  const delim = options.delimiter ?? ',';
  const comment = options.comment === undefined ? '#' : options.comment;
  if (delim.length !== 1) throw new UserError(`delimiter must be one character, got ${JSON.stringify(delim)}`);
  const records: string[][] = [];
  const lines: number[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    // Skip blank and comment lines.
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    if (comment !== null && text[i] === comment) {
      while (i < n && text[i] !== '\n') i++;
      i++;
      line++;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new UserError(`${file}: row ${quoteLine}: unterminated quoted field`);
          const ch = text[i];
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        // Tolerate spaces after the closing quote; anything else is malformed.
        while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
        if (i < n && text[i] !== delim && text[i] !== '\n' && text[i] !== '\r') {
          throw new UserError(`${file}: row ${line}, column ${fields.length + 1}: unexpected ${JSON.stringify(text[i])} after a closing quote`);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== delim && text[i] !== '\n' && text[i] !== '\r') i++;
        field = text.slice(start, i);
      }
      fields.push(field);
      if (i < n && text[i] === delim) {
        i++;
        continue;
      }
      // End of record.
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    records.push(fields);
    lines.push(startLine);
  }
  return { records, lines };
}

/** Parses one numeric cell, or throws naming file, row and column. */
export function parseNumberCell(cell: string, file: string, line: number, column: number, name?: string): number {
  const where = `${file}: row ${line}, column ${column + 1}${name ? ` (${JSON.stringify(name)})` : ''}`;
  const s = cell.trim();
  if (s === '') throw new UserError(`${where}: missing value`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new UserError(`${where}: ${JSON.stringify(cell)} is not a number`);
  return v;
}

function looksNumeric(cell: string): boolean {
  const s = cell.trim();
  return s !== '' && Number.isFinite(Number(s));
}

export type ColumnRef = string | number;

export interface NumericTableOptions extends ParseCsvOptions {
  /** true: first record names the columns; false: none; 'auto' (default): a header when no cell of the first record is a number. */
  header?: boolean | 'auto';
  /**
   * Columns to read, by header name or 0-based index. Default: every column whose first data
   * cell is a number (so a leading date column is skipped).
   */
  columns?: ColumnRef[];
  /** Minimum data rows. Default 1. */
  minRows?: number;
}

export interface NumericTable {
  file: string;
  /** Names of the selected columns (header names, or "column N" 1-based without a header). */
  names: string[];
  /** 0-based indices of the selected columns in the file. */
  indices: number[];
  rows: number;
  /** Values row-major [rows, names.length], float64. */
  values: Float64Array;
  /** 1-based line of each data row. */
  lines: number[];
  /** Every header name (empty when there is no header). */
  header: string[];
}

/** Resolves a column reference against a header; throws naming what exists. */
export function resolveColumn(ref: ColumnRef, header: string[], width: number, file: string): number {
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    const idx = typeof ref === 'number' ? ref : Number(ref);
    if (!Number.isInteger(idx) || idx < 0 || idx >= width) {
      throw new UserError(`${file}: column index must be in [0, ${width - 1}] (0-based), got ${ref}`);
    }
    if (typeof ref === 'string' && header.includes(ref)) return header.indexOf(ref);
    return idx;
  }
  const idx = header.indexOf(ref);
  if (idx < 0) {
    const known = header.length ? header.map((h) => JSON.stringify(h)).join(', ') : '(the file has no header row; use 0-based indices)';
    throw new UserError(`${file}: no column named ${JSON.stringify(ref)}; columns: ${known}`);
  }
  return idx;
}

/** Reads a CSV of numbers: checks it is not empty and not ragged, and parses the selected columns. */
export function readNumericTable(text: string, file: string, options: NumericTableOptions = {}): NumericTable {
  const { records, lines } = parseCsv(text, file, options);
  if (records.length === 0) throw new UserError(`${file}: the file is empty`);
  const first = records[0];
  const headerOpt = options.header ?? 'auto';
  const hasHeader = headerOpt === 'auto' ? !first.some(looksNumeric) : headerOpt;
  const header = hasHeader ? first.map((h) => h.trim()) : [];
  const start = hasHeader ? 1 : 0;
  const width = first.length;
  const minRows = options.minRows ?? 1;
  if (records.length - start < minRows) {
    throw new UserError(`${file}: the file has ${records.length - start} data row${records.length - start === 1 ? '' : 's'}, need at least ${minRows}`);
  }
  for (let r = 1; r < records.length; r++) {
    if (records[r].length !== width) {
      throw new UserError(`${file}: row ${lines[r]} has ${records[r].length} column${records[r].length === 1 ? '' : 's'}, expected ${width} as in row ${lines[0]}`);
    }
  }
  let indices: number[];
  if (options.columns && options.columns.length > 0) {
    indices = options.columns.map((c) => resolveColumn(c, header, width, file));
  } else {
    const firstData = records[start];
    indices = [];
    for (let c = 0; c < width; c++) if (looksNumeric(firstData[c])) indices.push(c);
    if (indices.length === 0) {
      throw new UserError(`${file}: row ${lines[start]}: no numeric column found; choose columns explicitly`);
    }
  }
  const names = indices.map((c) => (hasHeader ? header[c] : `column ${c + 1}`));
  const rows = records.length - start;
  const k = indices.length;
  const values = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const rec = records[start + r];
    for (let j = 0; j < k; j++) {
      const c = indices[j];
      values[r * k + j] = parseNumberCell(rec[c], file, lines[start + r], c, hasHeader ? header[c] : undefined);
    }
  }
  return { file, names, indices, rows, values, lines: lines.slice(start), header };
}
