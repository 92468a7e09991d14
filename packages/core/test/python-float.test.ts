import { describe, expect, it } from 'vitest';
import { pythonJsonStringify } from '../src/serializer/json.js';
import { PythonFloat, pythonFloatText } from '../src/serializer/python-float.js';

describe('pythonFloatText', () => {
  // Each value and json.dumps(value) of the same float as Python 3 prints it.
  const python: [number, string][] = [
    [2, '2.0'],
    [3, '3.0'],
    [0.25, '0.25'],
    [0.001, '0.001'],
    [0.0001, '0.0001'],
    [0.00005, '5e-05'],
    [4.2e-5, '4.2e-05'],
    [1e-7, '1e-07'],
    [2.5e-10, '2.5e-10'],
    [0.007000371999311028, '0.007000371999311028'],
    [1795541350.8355472, '1795541350.8355472'],
    [1795541350, '1795541350.0'],
    [123456.789, '123456.789'],
    [9999999999999998, '9999999999999998.0'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [1e21, '1e+21'],
    [0, '0.0'],
    [-0, '-0.0'],
    [-2, '-2.0'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
  ];

  it.each(python)('%s is written as Python writes the float: %s', (value, text) => {
    expect(pythonFloatText(value)).toBe(text);
  });

  it('a PythonFloat inside a value is written as a float; JSON.stringify and readers see the number', () => {
    const value = { freq: new PythonFloat(2), loadavg: [0.5, 2].map((n) => new PythonFloat(n)), active: 2 };
    expect(pythonJsonStringify(value)).toBe('{"freq": 2.0, "loadavg": [0.5, 2.0], "active": 2}');
    expect(JSON.parse(JSON.stringify(value))).toEqual({ freq: 2, loadavg: [0.5, 2], active: 2 });
  });
});
