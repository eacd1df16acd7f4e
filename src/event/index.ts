// Public surface of the event model: the canonical event and the converters to and from every format.
export * from './model.ts';
