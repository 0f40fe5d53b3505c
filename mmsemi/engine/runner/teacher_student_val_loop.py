"""Validation of both networks of a mean-teacher method."""
from typing import Dict, Sequence

from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop

from mmseg.registry import LOOPS


@LOOPS.register_module()
class TeacherStudentValLoop(ValLoop):
    """Evaluate the EMA teacher and the student in one validation pass.

    Each network predicts the whole validation set in turn (the model's
    ``semi_test_cfg.predict_on`` is switched for the pass and restored
    afterwards); the metrics come back prefixed, ``teacher/mIoU`` and
    ``student/mIoU``, so ``CheckpointHook(save_best='teacher/mIoU')`` keeps
    the best teacher, as UniMatch V2 reports the best EMA value.

    Models without a teacher are evaluated once, with unprefixed metrics
    (the plain ``ValLoop``).
    """

    networks: Sequence[str] = ('teacher', 'student')

    def _semi_model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def run(self) -> dict:
        model = self._semi_model()
        if getattr(model, 'teacher', None) is None:
            return super().run()
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        predict_on = model.semi_test_cfg['predict_on']
        metrics: Dict[str, float] = {}
        try:
            for network in self.networks:
                model.semi_test_cfg['predict_on'] = network
                for idx, data_batch in enumerate(self.dataloader):
                    self.run_iter(idx, data_batch)
                network_metrics = self.evaluator.evaluate(
                    len(self.dataloader.dataset))
                metrics.update({f'{network}/{key}': value
                                for key, value in network_metrics.items()})
        finally:
            model.semi_test_cfg['predict_on'] = predict_on
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics
