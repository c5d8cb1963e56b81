//! Previous/Next links for a list shown [`PAGE_SIZE`] items at a time. The page number lives in
//! the query string (`?page=2`, counted from 1), so the links work without JavaScript and a page
//! can be bookmarked; once hydrated the router follows them without a reload.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// How many items a paged list shows at once.
pub const PAGE_SIZE: usize = 50;

/// The page the query string asks for, counted from 1 (anything unreadable is page 1).
pub fn use_page() -> Memo<usize> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("page").and_then(|page| page.parse::<usize>().ok()).filter(|page| *page >= 1).unwrap_or(1))
}

/// The items of `page` (from 1) among `items`, and whether a later page has any.
pub fn page_of<T>(items: Vec<T>, page: usize) -> (Vec<T>, bool) {
    let start = (page - 1).saturating_mul(PAGE_SIZE);
    let more = items.len() > start.saturating_add(PAGE_SIZE);
    (items.into_iter().skip(start).take(PAGE_SIZE).collect(), more)
}

/// `label` names the list, so a page with two pagers tells them apart.
#[component]
pub fn Pager(path: String, page: usize, has_next: bool, #[prop(into)] label: String) -> impl IntoView {
    let href = move |page: usize| if page == 1 { path.clone() } else { format!("{path}?page={page}") };
    (page > 1 || has_next).then(|| {
        view! {
            <nav class="pager" aria-label=label>
                {(page > 1).then(|| view! { <a href=href(page - 1) rel="prev">"Previous"</a> })}
                <span class="muted">"Page " {page}</span>
                {has_next.then(|| view! { <a href=href(page + 1) rel="next">"Next"</a> })}
            </nav>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_slice_the_list_and_say_when_more_follow() {
        let items: Vec<u32> = (0..120).collect();
        let (first, more) = page_of(items.clone(), 1);
        assert_eq!((first.len(), first[0], more), (50, 0, true));
        let (third, more) = page_of(items.clone(), 3);
        assert_eq!((third.len(), third[0], more), (20, 100, false));
        let (beyond, more) = page_of(items, 4);
        assert!(beyond.is_empty() && !more);
        let (exact, more) = page_of((0..50).collect::<Vec<u32>>(), 1);
        assert_eq!((exact.len(), more), (50, false));
    }
}
