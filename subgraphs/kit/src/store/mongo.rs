//! The MongoDB backend (official `mongodb` crate). Documents keep their string `id` as `_id`;
//! every operation is one documented command: `insert`, `find`, `countDocuments`,
//! `findAndModify`, `update`, `delete`, `createIndexes`.

use async_trait::async_trait;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::options::{
    FindOneAndUpdateOptions, FindOptions as MongoFindOptions, IndexOptions, ReturnDocument,
};
use mongodb::{Client, Database, IndexModel};
use serde_json::{Map, Value};

use super::filter::check_name;
use super::{Backend, Doc, Filter, FindOptions, IndexSpec, Order, StoreError, StoreResult, Update};

pub struct MongoStore {
    db: Database,
}

impl MongoStore {
    /// Connects to `url`; the database is the URL's default database, else `database`.
    pub async fn connect(url: &str, database: &str) -> StoreResult<Self> {
        let client = Client::with_uri_str(url).await.map_err(mongo)?;
        let db = client
            .default_database()
            .unwrap_or_else(|| client.database(database));
        Ok(Self { db })
    }

    fn coll(&self, name: &str) -> StoreResult<mongodb::Collection<Document>> {
        Ok(self.db.collection(check_name(name)?))
    }
}

#[async_trait]
impl Backend for MongoStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn ensure_indexes(&self, indexes: &[IndexSpec]) -> StoreResult<()> {
        for index in indexes {
            let mut keys = Document::new();
            for (field, order) in &index.fields {
                let direction = if *order == Order::Asc { 1 } else { -1 };
                keys.insert(mongo_field(field)?, direction);
            }
            let options = IndexOptions::builder()
                .name(index.name())
                .unique(index.unique)
                .build();
            let model = IndexModel::builder().keys(keys).options(options).build();
            self.coll(index.collection)?
                .create_index(model)
                .await
                .map_err(mongo)?;
        }
        Ok(())
    }

    async fn insert(&self, collection: &str, doc: Doc) -> StoreResult<()> {
        self.coll(collection)?
            .insert_one(to_bson_doc(doc)?)
            .await
            .map(|_| ())
            .map_err(|e| duplicate_or_mongo(e, collection))
    }

    async fn find(
        &self,
        collection: &str,
        filter: &Filter,
        opts: &FindOptions,
    ) -> StoreResult<Vec<Doc>> {
        let mut options = MongoFindOptions::default();
        if !opts.sort.is_empty() {
            let mut sort = Document::new();
            for (field, order) in &opts.sort {
                sort.insert(
                    mongo_field(field)?,
                    if *order == Order::Asc { 1 } else { -1 },
                );
            }
            options.sort = Some(sort);
        }
        options.limit = opts.limit.map(|l| l as i64);
        let cursor = self
            .coll(collection)?
            .find(filter_doc(filter)?)
            .with_options(options)
            .await
            .map_err(mongo)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(mongo)?;
        docs.into_iter().map(from_bson_doc).collect()
    }

    async fn count(&self, collection: &str, filter: &Filter) -> StoreResult<u64> {
        self.coll(collection)?
            .count_documents(filter_doc(filter)?)
            .await
            .map_err(mongo)
    }

    async fn update_one(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
    ) -> StoreResult<Option<Doc>> {
        let options = FindOneAndUpdateOptions::builder()
            .return_document(ReturnDocument::After)
            .build();
        let doc = self
            .coll(collection)?
            .find_one_and_update(filter_doc(filter)?, update_doc(update)?)
            .with_options(options)
            .await
            .map_err(|e| duplicate_or_mongo(e, collection))?;
        doc.map(from_bson_doc).transpose()
    }

    async fn update_many(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
    ) -> StoreResult<u64> {
        let result = self
            .coll(collection)?
            .update_many(filter_doc(filter)?, update_doc(update)?)
            .await
            .map_err(|e| duplicate_or_mongo(e, collection))?;
        Ok(result.modified_count)
    }

    async fn delete_many(&self, collection: &str, filter: &Filter) -> StoreResult<u64> {
        let result = self
            .coll(collection)?
            .delete_many(filter_doc(filter)?)
            .await
            .map_err(mongo)?;
        Ok(result.deleted_count)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(mongo)
    }
}

fn mongo_field(field: &str) -> StoreResult<String> {
    let field = check_name(field)?;
    Ok(if field == "id" {
        "_id".to_owned()
    } else {
        field.to_owned()
    })
}

fn bson(value: &Value) -> StoreResult<Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn filter_doc(filter: &Filter) -> StoreResult<Document> {
    let op = |field: &str, op: &str, value: &Value| -> StoreResult<Document> {
        Ok(doc! { mongo_field(field)?: { op: bson(value)? } })
    };
    Ok(match filter {
        Filter::All => Document::new(),
        Filter::Eq(f, v) => op(f, "$eq", v)?,
        Filter::Ne(f, v) => op(f, "$ne", v)?,
        Filter::Gt(f, v) => op(f, "$gt", v)?,
        Filter::Gte(f, v) => op(f, "$gte", v)?,
        Filter::Lt(f, v) => op(f, "$lt", v)?,
        Filter::Lte(f, v) => op(f, "$lte", v)?,
        Filter::In(f, values) => {
            let values = values.iter().map(bson).collect::<StoreResult<Vec<_>>>()?;
            doc! { mongo_field(f)?: { "$in": values } }
        }
        // An equality on an array field matches when the array holds the value.
        Filter::Contains(f, v) => doc! { mongo_field(f)?: bson(v)? },
        Filter::And(parts) if parts.is_empty() => Document::new(),
        Filter::Or(parts) if parts.is_empty() => doc! { "_id": { "$in": [] } },
        Filter::And(parts) => {
            doc! { "$and": parts.iter().map(filter_doc).collect::<StoreResult<Vec<_>>>()? }
        }
        Filter::Or(parts) => {
            doc! { "$or": parts.iter().map(filter_doc).collect::<StoreResult<Vec<_>>>()? }
        }
    })
}

fn update_doc(update: &Update) -> StoreResult<Document> {
    let mut out = Document::new();
    let mut section = |name: &str, pairs: Vec<(String, Bson)>| {
        if !pairs.is_empty() {
            out.insert(name, pairs.into_iter().collect::<Document>());
        }
    };
    let pairs = |items: &[(String, Value)]| -> StoreResult<Vec<(String, Bson)>> {
        items
            .iter()
            .map(|(f, v)| Ok((mongo_field(f)?, bson(v)?)))
            .collect()
    };
    update.validate()?;
    section("$set", pairs(&update.set)?);
    section(
        "$unset",
        update
            .unset
            .iter()
            .map(|f| Ok((mongo_field(f)?, Bson::String(String::new()))))
            .collect::<StoreResult<_>>()?,
    );
    section(
        "$inc",
        update
            .inc
            .iter()
            .map(|(f, by)| Ok((mongo_field(f)?, Bson::Int64(*by))))
            .collect::<StoreResult<_>>()?,
    );
    section("$addToSet", pairs(&update.add_to_set)?);
    section("$pull", pairs(&update.pull)?);
    Ok(out)
}

fn to_bson_doc(mut doc: Doc) -> StoreResult<Document> {
    if let Some(id) = doc.remove("id") {
        doc.insert("_id".to_owned(), id);
    }
    bson::to_document(&doc).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_bson_doc(doc: Document) -> StoreResult<Doc> {
    let mut map = Map::new();
    for (key, value) in doc {
        let key = if key == "_id" { "id".to_owned() } else { key };
        map.insert(key, value.into_relaxed_extjson());
    }
    Ok(map)
}

fn duplicate_or_mongo(e: mongodb::error::Error, collection: &str) -> StoreError {
    use mongodb::error::{ErrorKind, WriteFailure};
    let duplicate = match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => e.to_string().contains("E11000"),
    };
    if duplicate {
        return StoreError::Duplicate {
            index: format!("{collection}: {e}"),
        };
    }
    mongo(e)
}

fn mongo(e: mongodb::error::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}
