// @generated automatically by Diesel CLI.

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        name -> Nullable<Text>,
    }
}
