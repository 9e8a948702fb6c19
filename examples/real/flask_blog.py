"""A Flask app built by an application factory: a blueprint, Jinja templates, an error handler.
The main block drives it through Flask's test client. Needs: flask."""
from flask import Blueprint, Flask, abort, jsonify, render_template_string, request, url_for

POSTS = {
    1: {"id": 1, "title": "Hello, Flask", "tags": ["intro", "python"]},
    2: {"id": 2, "title": "Blueprints & <templates>", "tags": ["web"]},
}

PAGE = """<h1>{{ title|shout }}</h1>
<ul>{% for p in posts %}<li><a href="{{ url_for('api.get_post', post_id=p.id) }}">{{ p.title }}</a></li>{% endfor %}</ul>"""

api = Blueprint("api", __name__, url_prefix="/api")


@api.get("/posts")
def list_posts():
    tag = request.args.get("tag")
    posts = [p for p in POSTS.values() if tag is None or tag in p["tags"]]
    return jsonify(posts=[p["id"] for p in posts])


@api.get("/posts/<int:post_id>")
def get_post(post_id):
    if post_id not in POSTS:
        abort(404)
    return jsonify(POSTS[post_id])


@api.post("/posts")
def create_post():
    data = request.get_json()
    new_id = max(POSTS) + 1
    POSTS[new_id] = {"id": new_id, "title": data["title"], "tags": data.get("tags", [])}
    return jsonify(POSTS[new_id]), 201


def create_app():
    app = Flask(__name__)
    app.config.update(TESTING=True, JSON_SORT_KEYS=True)
    app.register_blueprint(api)

    @app.template_filter("shout")
    def shout(s):
        return s.upper() + "!"

    @app.route("/")
    def index():
        return render_template_string(PAGE, title="my blog", posts=POSTS.values())

    @app.errorhandler(404)
    def not_found(error):
        return jsonify(error="not found", path=request.path), 404

    return app


app = create_app()

if __name__ == "__main__":
    client = app.test_client()
    print(client.get("/").get_data(as_text=True))
    for url in ["/api/posts", "/api/posts?tag=web", "/api/posts/2", "/api/posts/9"]:
        resp = client.get(url)
        print(resp.status_code, resp.get_json())
    resp = client.post("/api/posts", json={"title": "Third", "tags": ["web"]})
    print(resp.status_code, resp.get_json())
    print(client.get("/api/posts?tag=web").get_json())
    with app.test_request_context():
        print(url_for("api.get_post", post_id=3), sorted(app.url_map.iter_rules(), key=str)[0])
