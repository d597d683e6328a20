extension KubeSchemaCatalogue {
    /// The built-in catalogue's compact JSON text (format `kelson-kube-schemas/1`), for the server's OpenAPI
    /// documents, which are built from the same definitions.
    public static var builtInDefinitionsText: String { builtInText }
}
