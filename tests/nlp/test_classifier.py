"""The intent classifier as Rasa drives it: trained, persisted, loaded (for prediction and for
``rasa train --finetune``), and what it does with a button's payload."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import PROJECT_ROOT
from bot.nlp.classifier import SentenceIntentClassifier

EXAMPLES = {
    "professional_disagreement": [
        "children's social care closed the case and I disagree",
        "MASH said it doesn't meet threshold and I think they are wrong",
        "the other agency won't change their decision about the risk",
    ],
    "choose_partnership": ["we are in bury", "south tyneside please", "warrington adults board"],
    "affirm": ["yes", "yes please", "that's right"],
}


def training_data(extra: dict[str, list[str]] | None = None) -> TrainingData:
    examples = {**EXAMPLES, **(extra or {})}
    return TrainingData([Message(data={"text": text, "intent": intent}) for intent, texts in examples.items() for text in texts])


def context(finetuning: bool = False) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), is_finetuning=finetuning)


@pytest.fixture
def trained(tmp_path):
    (tmp_path / "model").mkdir()
    storage = LocalModelStorage(tmp_path / "model")
    resource = Resource("classifier")
    classifier = SentenceIntentClassifier.create({}, storage, resource, context())
    classifier.train(training_data())
    return storage, resource


def classify(classifier, *texts: str) -> list[Message]:
    return classifier.process([Message(data={"text": text}) for text in texts])


def test_trained_persisted_and_loaded_it_classifies(trained):
    storage, resource = trained
    loaded = SentenceIntentClassifier.load({}, storage, resource, context())
    [message] = classify(loaded, "the LADO closed it and I disagree with their decision")
    assert message.get("intent")["name"] == "professional_disagreement"


def test_the_ranking_is_the_logistic_regressions_own_probabilities(trained):
    storage, resource = trained
    classifier = SentenceIntentClassifier.load({}, storage, resource, context())
    texts = ["the LADO closed it and I disagree", "yes", "we're in south tyneside", "book a flight"]
    expected = classifier.parts["classifier"].predict_proba(classifier._features(texts))
    classes = list(classifier.parts["classifier"].classes_)
    for message, row in zip(classify(classifier, *texts), expected):
        ranking = message.get("intent_ranking")
        assert [entry["name"] for entry in ranking] == [classes[i] for i in np.argsort(-row)]
        assert [entry["confidence"] for entry in ranking] == pytest.approx(sorted(row, reverse=True), abs=1e-9)


def test_finetuning_loads_the_trained_model_and_learns_the_new_example(trained):
    """``rasa train --finetune``: Rasa calls ``load`` with ``is_finetuning`` on the previous
    model's storage, then ``train`` with the changed data, and persists into that storage."""
    storage, resource = trained
    finetuning = SentenceIntentClassifier.load({}, storage, resource, context(finetuning=True))
    assert "classifier" in finetuning.parts
    assert "open" not in finetuning.parts["word_vectorizer"].vocabulary_
    finetuning.train(training_data({"affirm": EXAMPLES["affirm"] + ["go ahead, open it"]}))
    reloaded = SentenceIntentClassifier.load({}, storage, resource, context())
    assert "open" in reloaded.parts["word_vectorizer"].vocabulary_
    [message] = classify(reloaded, "go ahead, open it")
    assert message.get("intent")["name"] == "affirm"


def test_a_buttons_payload_gets_the_intent_it_names_without_being_classified(trained, monkeypatch):
    storage, resource = trained
    classifier = SentenceIntentClassifier.load({}, storage, resource, context())
    classified: list[str] = []
    features = classifier._features
    monkeypatch.setattr(classifier, "_features", lambda texts: classified.extend(texts) or features(texts))
    payload, typed = classify(classifier, '/choose_partnership{"partnership": "bury-adults"}', "yes please")
    assert classified == ["yes please"]
    assert payload.get("intent") == {"name": "choose_partnership", "confidence": 1.0}
    assert payload.get("intent_ranking") == [{"name": "choose_partnership", "confidence": 1.0}]
    # ... which is what Rasa's RegexMessageHandler, last in the pipeline, makes of it anyway.
    [handled] = RegexMessageHandler().process([payload])
    assert handled.get("intent") == payload.get("intent")


def test_a_payload_naming_an_intent_the_model_does_not_know_is_classified(trained):
    storage, resource = trained
    classifier = SentenceIntentClassifier.load({}, storage, resource, context())
    [message] = classify(classifier, "/no_such_intent")
    assert message.get("intent")["name"] in EXAMPLES


def test_every_intent_with_examples_is_in_the_domain():
    """What lets the classifier leave a payload to Rasa: the intents it knows are the domain's."""
    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_ROOT / "config.yml"), str(PROJECT_ROOT / "domain.yml"), [str(PROJECT_ROOT / "data")]
    )
    assert importer.get_nlu_data().intents <= set(importer.get_domain().intents)


def test_a_stated_sign_of_danger_is_immediate_risk_whatever_the_model_learned(tmp_path):
    (tmp_path / "model").mkdir()
    storage = LocalModelStorage(tmp_path / "model")
    classifier = SentenceIntentClassifier.create({}, storage, Resource("classifier"), context())
    classifier.train(training_data({"immediate_risk": ["call 999 now", "a child is in danger right now", "he is hurting her now"]}))
    danger, plain = classify(classifier, "I disagree with CSC closing it, and the baby is very floppy today", "I disagree with CSC closing it")
    assert danger.get("intent")["name"] == "immediate_risk"
    assert danger.get("intent")["confidence"] >= 0.95
    assert [entry["name"] for entry in danger.get("intent_ranking")].count("immediate_risk") == 1
    assert plain.get("intent")["name"] == "professional_disagreement"


def _messages_of_the_training_data() -> list[str]:
    importer = TrainingDataImporter.load_from_dict(training_data_paths=[str(PROJECT_ROOT / "data")])
    return [message.get("text") for message in importer.get_nlu_data().intent_examples]


@pytest.mark.parametrize("analyzer, ngrams", [("char_wb", (2, 5)), ("word", (1, 2))])
def test_the_direct_tfidf_transform_is_scikit_learns_value_for_value(analyzer, ngrams):
    """Fitted on the project's training data, on those messages and on others (unknown words,
    empty, repeated words, emoji): the same matrix, the same values in the same order."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.nlp.classifier import TfidfTransform

    texts = _messages_of_the_training_data()
    assert len(texts) > 1000
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=2).fit(texts)
    others = ["", "zzzz qqqq", "not resolved not resolved not resolved", "🙂 MASH?!", "ESC-12 <b>stage 2</b> " * 40]
    for batch in (texts, others, texts[:1]):
        expected, got = vectorizer.transform(batch), TfidfTransform.of(vectorizer)(batch)
        assert got.shape == expected.shape
        assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data)


def test_other_tfidf_settings_keep_scikit_learns_transform():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.nlp.classifier import TfidfTransform

    vectorizer = TfidfVectorizer(sublinear_tf=False).fit(["we are in bury", "south tyneside please"])
    assert TfidfTransform.of(vectorizer) == vectorizer.transform
