// Argument checks shared by every subsystem: each throws InvalidArgumentError naming the field.
import { InvalidArgumentError } from './errors.js';

export function requireFiniteNonNegative(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(field, value, 'a finite number >= 0');
  }
  return value;
}

export function requirePositive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(field, value, 'a finite number > 0');
  }
  return value;
}

export function requireIntegerInRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

export function requireNonEmptyString(field: string, value: unknown, maxLength = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new InvalidArgumentError(field, value, `a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}
