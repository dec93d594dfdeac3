// Variable-length sequence classification data laid out as the IndoorMovement set: one CSV per
// sequence (`dataset/MovementAAL_RSS_<id>.csv`, one row per step), a targets file
// (`dataset/MovementAAL_target.csv`: id,label) and optionally a groups file
// (`groups/MovementAAL_DatasetGroup.csv`: id,group). Read from a zip archive or a folder.

import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { unzipSync } from 'fflate';
import type { SequenceDataset } from './dataset.js';
import { readNumericTable } from './csv.js';
import { UserError } from './errors.js';
import { isDirectory, readBytes } from './files.js';

export interface SequenceZipOptions {
  /** Path (inside the archive) of the targets file. Default: the one entry ending in `_target.csv`. */
  targets?: string;
  /** Path of the groups file; null: do not read groups. Default: the entry ending in `DatasetGroup.csv`, if any. */
  groups?: string | null;
  /**
   * Sequence files: entries in the targets file's folder whose name ends in `_<id>.csv`.
   * This pattern (group 1 = id) overrides the default.
   */
  sequencePattern?: RegExp;
}

export interface SequenceZipResult {
  /** x [count, maxLength, features] zero-padded, lengths set, y Int32Array class indices [count]. */
  dataset: SequenceDataset;
  /** Group id of each sequence (as written in the groups file), when a groups file exists. */
  groups?: Int32Array;
  /** Sequence id of each row, in targets-file order. */
  ids: Int32Array;
  /** Original label of each class index, ascending (IndoorMovement: [-1, 1] → classes 0, 1). */
  classes: number[];
}

/** Every file of a zip archive or a folder, by '/'-separated relative path. */
export function readArchive(path: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  if (isDirectory(path)) {
    const walk = (dir: string) => {
      for (const ent of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, ent.name);
        if (ent.isDirectory()) walk(full);
        else if (ent.isFile()) files.set(relative(path, full).split(sep).join('/'), readBytes(full));
      }
    };
    walk(path);
    return files;
  }
  const bytes = readBytes(path);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new UserError(`${path}: not a readable zip archive (${(e as Error).message})`, { cause: e });
  }
  for (const [name, data] of Object.entries(entries)) {
    if (!name.endsWith('/') && !name.startsWith('__MACOSX/')) files.set(name, data);
  }
  return files;
}

function findEntry(files: Map<string, Uint8Array>, archive: string, wanted: string | undefined, suffix: string, what: string): string | undefined {
  const names = [...files.keys()];
  if (wanted !== undefined) {
    const hit = names.find((n) => n === wanted) ?? names.find((n) => n.endsWith('/' + wanted));
    if (!hit) throw new UserError(`${archive}: no ${what} file ${JSON.stringify(wanted)} in it`);
    return hit;
  }
  const hits = names.filter((n) => n.toLowerCase().endsWith(suffix.toLowerCase()));
  if (hits.length > 1) throw new UserError(`${archive}: several ${what} files (${hits.join(', ')}); choose one`);
  return hits[0];
}

/** Reads a two-column id,value CSV into a map; rejects duplicates and non-integer ids. */
function readIdTable(text: string, file: string): { ids: number[]; values: number[] } {
  const t = readNumericTable(text, file, { header: 'auto', columns: [0, 1] });
  const ids: number[] = [];
  const values: number[] = [];
  const seen = new Set<number>();
  for (let r = 0; r < t.rows; r++) {
    const id = t.values[r * 2];
    if (!Number.isInteger(id)) throw new UserError(`${file}: row ${t.lines[r]}, column 1: sequence id must be an integer, got ${id}`);
    if (seen.has(id)) throw new UserError(`${file}: row ${t.lines[r]}, column 1: duplicate sequence id ${id}`);
    seen.add(id);
    ids.push(id);
    values.push(t.values[r * 2 + 1]);
  }
  return { ids, values };
}

/**
 * Loads the IndoorMovement layout (or any archive/folder laid out the same way) as a padded
 * classification dataset. Labels are mapped to class indices in ascending label order.
 */
export function loadSequenceZip(zipPath: string, options: SequenceZipOptions = {}): SequenceZipResult {
  const files = readArchive(zipPath);
  const decoder = new TextDecoder('utf-8');
  const text = (name: string) => decoder.decode(files.get(name)!);
  const targetsName = findEntry(files, zipPath, options.targets, '_target.csv', 'targets');
  if (!targetsName) throw new UserError(`${zipPath}: no targets file (a name ending in _target.csv); pass the targets option`);
  const targets = readIdTable(text(targetsName), `${zipPath}:${targetsName}`);

  // Sequence files live beside the targets file.
  const dir = targetsName.includes('/') ? targetsName.slice(0, targetsName.lastIndexOf('/') + 1) : '';
  const pattern = options.sequencePattern ?? /_(\d+)\.csv$/i;
  const byId = new Map<number, string>();
  for (const name of files.keys()) {
    if (name === targetsName || !name.startsWith(dir) || name.slice(dir.length).includes('/')) continue;
    const m = pattern.exec(name.slice(dir.length));
    if (m) byId.set(Number(m[1]), name);
  }

  const count = targets.ids.length;
  const seqs: { values: Float64Array; rows: number }[] = [];
  let features = 0;
  for (const id of targets.ids) {
    const name = byId.get(id);
    if (!name) throw new UserError(`${zipPath}: sequence ${id} is listed in ${targetsName} but no file ${dir}…_${id}.csv exists`);
    const label = `${zipPath}:${name}`;
    const t = readNumericTable(text(name), label, { header: 'auto' });
    const width = t.indices.length;
    if (features === 0) features = width;
    else if (width !== features) {
      throw new UserError(`${label}: row ${t.lines[0]} has ${width} numeric columns, expected ${features} as in the other sequences`);
    }
    seqs.push({ values: t.values, rows: t.rows });
  }
  const time = Math.max(...seqs.map((s) => s.rows));
  const x = new Float32Array(count * time * features);
  const lengths = new Int32Array(count);
  seqs.forEach((s, i) => {
    lengths[i] = s.rows;
    x.set(s.values, i * time * features); // Float64 → Float32; steps past the length stay zero
  });

  const classes = [...new Set(targets.values)].sort((a, b) => a - b);
  const y = new Int32Array(count);
  targets.values.forEach((v, i) => (y[i] = classes.indexOf(v)));

  const result: SequenceZipResult = {
    dataset: { x, count, time, features, lengths, y, yShape: [count] },
    ids: Int32Array.from(targets.ids),
    classes,
  };
  if (options.groups !== null) {
    const groupsName = findEntry(files, zipPath, options.groups, 'DatasetGroup.csv', 'groups');
    if (groupsName) {
      const g = readIdTable(text(groupsName), `${zipPath}:${groupsName}`);
      const map = new Map(g.ids.map((id, i) => [id, g.values[i]]));
      const groups = new Int32Array(count);
      targets.ids.forEach((id, i) => {
        const v = map.get(id);
        if (v === undefined) throw new UserError(`${zipPath}:${groupsName}: no group for sequence ${id}`);
        groups[i] = v;
      });
      result.groups = groups;
    }
  }
  return result;
}
