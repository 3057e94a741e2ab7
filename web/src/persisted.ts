// Every operation of this UI is sent by its persisted id (the sha256 that graphql-codegen
// writes into each document's `__meta__` and into dist/persisted-documents.json, which the
// router loads), never as text: the UI works against a router that runs only its manifest.
import type { DocumentNode } from 'graphql';

/** The persisted id of a generated document. */
export function persistedId(document: DocumentNode): string {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('not a generated document: every operation lives in src/gql');
  return hash;
}
