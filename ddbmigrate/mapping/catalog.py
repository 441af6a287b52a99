"""A Glue Data Catalog table (registered by the Glue crawler in ``crawlers/``) as a schema.

:func:`hive_to_spark` parses the catalog's Hive type strings and :func:`schema_from_catalog`
normalises the result like our own crawl. A catalog cannot tell whether a map is ever empty, nor
the original case of lower-cased names; items that do not fit are dead-lettered by the job's
conformance check, never lost. See docs/mapping.md, "The Glue crawler … or the local crawler?".
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.errors import ConfigError, MappingError
from ddbmigrate.schema import Schema, normalize_schema
from ddbmigrate.values import TYPE_TAGS

__all__ = ["hive_to_spark", "parse_table_name", "schema_from_catalog", "schema_from_columns"]

_ATOMIC = {
    "string": "string", "varchar": "string", "char": "string", "boolean": "boolean",
    "bigint": "long", "int": "integer", "integer": "integer", "smallint": "short", "tinyint": "byte",
    "double": "double", "float": "float", "binary": "binary", "timestamp": "timestamp", "date": "date",
}


class _Parser:
    """Recursive descent over one Hive type string."""

    def __init__(self, text: str, where: str) -> None:
        self.text, self.pos, self.where = text, 0, where

    def fail(self, message: str) -> MappingError:
        return MappingError(f"{self.where}: {message} at character {self.pos} of the type")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def word(self) -> str:
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected a type name")
        return self.text[start:self.pos].lower()

    def name(self) -> str:
        """A struct field name: backtick-quoted, or everything up to the ':'."""
        self.skip_space()
        if self.text.startswith("`", self.pos):
            end = self.pos + 1
            chars: list[str] = []
            while True:
                if end >= len(self.text):
                    raise self.fail("unclosed backtick")
                if self.text[end] == "`":
                    if self.text.startswith("``", end):
                        chars.append("`")
                        end += 2
                        continue
                    break
                chars.append(self.text[end])
                end += 1
            self.pos = end + 1
            return "".join(chars)
        end = self.text.find(":", self.pos)
        if end < 0:
            raise self.fail("expected 'name:type'")
        name, self.pos = self.text[self.pos:end].strip(), end
        if not name:
            raise self.fail("empty field name")
        return name

    def type(self) -> Any:
        kind = self.word()
        if kind == "struct":
            self.expect("<")
            fields = []
            self.skip_space()
            if not self.text.startswith(">", self.pos):
                while True:
                    name = self.name()
                    self.expect(":")
                    fields.append({"name": name, "type": self.type(), "nullable": True, "metadata": {}})
                    self.skip_space()
                    if not self.text.startswith(",", self.pos):
                        break
                    self.pos += 1
            self.expect(">")
            return {"type": "struct", "fields": fields}
        if kind == "array":
            self.expect("<")
            element = self.type()
            self.expect(">")
            return {"type": "array", "elementType": element, "containsNull": True}
        if kind == "map":
            self.expect("<")
            key = self.type()
            self.expect(",")
            value = self.type()
            self.expect(">")
            return {"type": "map", "keyType": key, "valueType": value, "valueContainsNull": True}
        if kind in ("decimal", "varchar", "char"):
            self.skip_space()
            if self.text.startswith("(", self.pos):
                close = self.text.find(")", self.pos)
                if close < 0:
                    raise self.fail("unclosed '('")
                args = self.text[self.pos + 1:close].replace(" ", "")
                self.pos = close + 1
                return f"decimal({args})" if kind == "decimal" else "string"
            return "decimal(10,0)" if kind == "decimal" else "string"
        if kind not in _ATOMIC:
            raise self.fail(f"unknown Hive type {kind!r}")
        return _ATOMIC[kind]


def hive_to_spark(type_string: str, *, where: str = "type") -> Any:
    """A Hive type string as Spark JSON (``"string"``, ``{"type": "struct", …}``…).

    >>> hive_to_spark("struct<pk:struct<S:string>,`a.b`:array<string>>")["fields"][1]["name"]
    'a.b'
    """
    parser = _Parser(type_string, where)
    result = parser.type()
    parser.skip_space()
    if parser.pos != len(type_string):
        raise parser.fail("unexpected text after the type")
    return result


def _upper_tags(type_: Any) -> Any:
    """Catalogs may lower-case nested names: ``s``/``m``/``bool`` → ``S``/``M``/``BOOL`` at tag level."""
    if not isinstance(type_, dict) or type_.get("type") != "struct":
        return type_
    fields = []
    for attribute in type_["fields"]:
        attr_type = attribute["type"]
        if isinstance(attr_type, dict) and attr_type.get("type") == "struct":
            tags = []
            for tag_field in attr_type["fields"]:
                tag = tag_field["name"].upper() if tag_field["name"].upper() in TYPE_TAGS else tag_field["name"]
                inner = _upper_tags(tag_field["type"]) if tag == "M" else tag_field["type"]
                tags.append({**tag_field, "name": tag, "type": inner})
            attr_type = {"type": "struct", "fields": tags}
        fields.append({**attribute, "type": attr_type})
    return {"type": "struct", "fields": fields}


def schema_from_columns(columns: list[dict[str, Any]], *, where: str = "catalog table") -> Schema:
    """``StorageDescriptor.Columns`` of a crawled export table → normalised schema."""
    items = [c for c in columns if str(c.get("Name", "")).lower() == "item"]
    if len(items) != 1:
        names = ", ".join(repr(c.get("Name")) for c in columns) or "none"
        raise MappingError(f"{where}: expected one column 'item' (a crawled export's data/ folder); found {names}")
    item_type = _upper_tags(hive_to_spark(items[0].get("Type", ""), where=f"{where} column 'item'"))
    schema = {"type": "struct", "fields": [{"name": "Item", "type": item_type, "nullable": True, "metadata": {}}]}
    return normalize_schema(schema, where=where)


def parse_table_name(text: str, *, option: str = "--catalog") -> tuple[str, str]:
    """``"DB.TABLE"`` → ``("DB", "TABLE")`` (the first dot separates); ``option`` names it in errors."""
    database, dot, table = text.partition(".")
    if not dot or not database or not table:
        raise ConfigError(f"{option}: {text!r} is not DB.TABLE")
    return database, table


def schema_from_catalog(glue_client: Any, database: str, table: str, *, catalog_id: str | None = None) -> Schema:
    """``glue:GetTable`` → normalised schema. One API call; no data is read."""
    kwargs: dict[str, Any] = {"DatabaseName": database, "Name": table}
    if catalog_id:
        kwargs["CatalogId"] = catalog_id
    where = f"Glue table {database}.{table}"
    try:
        description = glue_client.get_table(**kwargs)["Table"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "EntityNotFoundException":
            raise ConfigError(f"{where} not found; run the crawler in crawlers/ or 'ddbmigrate crawl EXPORT --register {database}.{table}' first, or use --export") from None
        raise ConfigError(f"{where}: GetTable failed ({code})") from None
    columns = description.get("StorageDescriptor", {}).get("Columns", [])
    return schema_from_columns(columns, where=where)
