import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed operations from the API schema (scripts/api-schema.mjs derives it from the
// supergraph); persisted-documents.json (sha256 -> document) is emitted into dist by the build.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    [process.env.CODEGEN_OUT ?? 'src/gql/']: {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string' },
        skipTypename: false,
      },
    },
  },
  silent: true,
};
export default config;
