"""SQLAlchemy 2.0 ORM: declarative models with a relationship, an in-memory SQLite engine, the
schema created and seeded at start-up; the main block queries it. Needs: sqlalchemy."""
from sqlalchemy import ForeignKey, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    books: Mapped[list["Book"]] = relationship(back_populates="author", order_by="Book.year")

    def __repr__(self):
        return f"Author({self.name!r})"


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    year: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as session:
    le_guin = Author(name="Ursula K. Le Guin", books=[Book(title="A Wizard of Earthsea", year=1968),
                                                      Book(title="The Dispossessed", year=1974)])
    herbert = Author(name="Frank Herbert", books=[Book(title="Dune", year=1965)])
    session.add_all([le_guin, herbert])
    session.commit()

if __name__ == "__main__":
    with Session(engine) as session:
        for author in session.scalars(select(Author).order_by(Author.name)):
            print(author, [(b.title, b.year) for b in author.books])
        stmt = (select(Author.name, func.count(Book.id), func.min(Book.year))
                .join(Book).group_by(Author.id).order_by(Author.name))
        print(session.execute(stmt).all())
        session.add(Book(title="Children of Dune", year=1976, author=session.scalar(
            select(Author).where(Author.name == "Frank Herbert"))))
        session.commit()
        print(session.scalars(select(Book.title).where(Book.year > 1970).order_by(Book.year)).all())
    print(str(select(Book).where(Book.year < 1970)).replace("\n", " "))
