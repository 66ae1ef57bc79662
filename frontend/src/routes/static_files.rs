//! `GET /static/{file}`: the embedded assets.
//!
//! Hashed names are cached for a year and marked `immutable`, so browsers don't even
//! revalidate them; plain names must be revalidated (`no-cache`) and answer a matching
//! `If-None-Match` with 304.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::header::{CACHE_CONTROL, ETag, IfNoneMatch},
    web,
};

use crate::assets::{Asset, Naming, assets};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let Some((asset, naming)) = assets().lookup(&file) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let cache_control = match naming {
        Naming::Hashed => IMMUTABLE,
        Naming::Plain => REVALIDATE,
    };
    if is_fresh(&req, asset) {
        return HttpResponse::NotModified()
            .insert_header((CACHE_CONTROL, cache_control))
            .insert_header(ETag(asset.etag.clone()))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, cache_control))
        .insert_header(ETag(asset.etag.clone()))
        .content_type(asset.content_type)
        .body(asset.body)
}

/// Whether the client's cached copy, named by `If-None-Match`, has this asset's content.
fn is_fresh(req: &HttpRequest, asset: &Asset) -> bool {
    match req.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&asset.etag)),
        None => false,
    }
}
