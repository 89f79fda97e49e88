package main

// Generation runs in this order: the ORM first, because the GraphQL layers build on it.
// generate_test.go regenerates into a scratch copy and fails when the committed code drifts.

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate --feature sql/upsert,sql/execquery,sql/lock ./ent/schema
//go:generate go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml
//go:generate sh -c "cd admin && go run -mod=mod github.com/99designs/gqlgen generate --config gqlgen.yml"
